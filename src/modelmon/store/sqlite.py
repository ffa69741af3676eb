"""SQLite stores (``sqlite:///path.db``, relative to the working directory; ``sqlite:////abs/path.db``).

The embedded default. Several processes may write and read one file at once: the database runs in
WAL mode (readers never block the writer), waits up to ``busy_timeout`` for a lock instead of failing,
and takes the write lock at the start of each write transaction (``BEGIN IMMEDIATE``) so two writers
never deadlock. Reads go through their own connection, so a read never waits behind a write that is
waiting for another process's lock. Events are unique per (model, id): a unique index, and inserts
that skip an id already stored (the first write wins). Nested values are JSON text, decoded one chunk
at a time; time is integer milliseconds since the epoch (UTC). Late targets live in their own table
keyed by (model, id) and are joined when events are read, so a target may arrive before or after its
event.

>>> store = open_sqlite_store("sqlite:///:memory:")
>>> store.events.add_events("m", [{"id": "a", "timestamp": "2024-01-01T00:00:00Z", "features": {"x": 1}}])
1
>>> store.events.upsert_targets("m", [("a", 3)])
1
>>> next(store.events.read_frames("m"))[["id", "x", "target"]].to_dict("records")
[{'id': 'a', 'x': 1, 'target': 3}]
>>> store.close()
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from itertools import chain
from typing import Any, TypeVar

import pandas as pd

from modelmon.errors import EventError, InputError, StoreError
from modelmon.store.base import EventStore, Store
from modelmon.store.documents import (
    CheckedEvent,
    encode_json,
    event_document,
    from_ms,
    to_ms,
    to_utc,
    utc_now,
)
from modelmon.store.frames import build_frame, decode_json_column, json_objects_frame
from modelmon.store.object_json import object_json, object_jsons
from modelmon.store.sqlite_history import SqliteMetricStore, SqliteReportStore

__all__ = ["SqliteDatabase", "SqliteEventStore", "open_sqlite_store"]

T = TypeVar("T")

#: milliseconds that stand for an open end of a time range
_NEVER = 2**62

# prediction and target have no declared type on purpose: without type affinity SQLite keeps numbers
# as numbers and strings as strings, so reading them back needs no decoding (see _to_cell)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY, model TEXT NOT NULL, id TEXT, ts INTEGER NOT NULL, features TEXT NOT NULL,
    prediction, probabilities TEXT, target, latency_ms REAL, attributions TEXT, metadata TEXT,
    received_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_model_ts ON events (model, ts);
CREATE TABLE IF NOT EXISTS targets (
    model TEXT NOT NULL, id TEXT NOT NULL, target, updated_at INTEGER NOT NULL, PRIMARY KEY (model, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS models (model TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reports (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, model TEXT NOT NULL, created_at INTEGER NOT NULL,
    period_start INTEGER, period_end INTEGER, html_path TEXT, headline TEXT NOT NULL, report TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_model ON reports (model, seq);
CREATE TABLE IF NOT EXISTS metrics (model TEXT NOT NULL, name TEXT NOT NULL, ts INTEGER NOT NULL, value REAL);
CREATE INDEX IF NOT EXISTS metrics_model_name_ts ON metrics (model, name, ts);
"""


#: Files written before ids were unique have a plain (model, id) index and may hold repeated ids:
#: keep the first row of each id, then the unique index of _SCHEMA replaces the plain one.
_UNIQUE_IDS = """
DELETE FROM events WHERE EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'events_model_id')
    AND seq NOT IN (SELECT min(seq) FROM events GROUP BY model, id) AND id IS NOT NULL;
DROP INDEX IF EXISTS events_model_id;
CREATE UNIQUE INDEX IF NOT EXISTS events_model_id_unique ON events (model, id);
"""


class SqliteDatabase:
    """One connection shared by the three stores of a file, used under a lock (so threads may share it).

    ``busy_timeout`` is how long (seconds) a write waits for another process's lock before failing.
    """

    def __init__(self, url: str, busy_timeout: float = 30.0) -> None:
        self.url = url
        self.path = url.removeprefix("sqlite:///")
        self.busy_timeout = busy_timeout
        self._lock = threading.RLock()
        with self.errors("open the database"):
            self._connection = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        with self.errors("set up the database"), _closing_on_error(self._connection):
            self._connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            self._connection.execute("PRAGMA journal_mode = WAL")
            # NORMAL is durable in WAL mode except for the last transactions before a power cut
            self._connection.execute("PRAGMA synchronous = NORMAL")
        with self._lock, self.errors("create the tables"):
            try:
                self._connection.executescript("BEGIN IMMEDIATE;" + _SCHEMA + _UNIQUE_IDS + "COMMIT;")
            except sqlite3.Error:
                self._connection.close()
                raise
        self._read_lock = threading.Lock()
        if self.path == ":memory:" or self.path.startswith("file:"):
            # a second connection to an in-memory database would open another, empty database
            self._reader, self._read_lock = self._connection, self._lock  # type: ignore[assignment]
        else:
            with self.errors("open the database for reading"):
                self._reader = sqlite3.connect(
                    self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
                )
                self._reader.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")

    @contextlib.contextmanager
    def errors(self, operation: str) -> Iterator[None]:
        """Turn a driver error into a :class:`StoreError` that names the file and the operation."""
        try:
            yield
        except sqlite3.Error as exc:
            hint = " (does its directory exist?)" if "unable to open" in str(exc) else ""
            raise StoreError(f"SQLite store {self.url}: cannot {operation}: {exc}{hint}") from exc

    def write(self, operation: str, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in one write transaction (all or nothing)."""
        with self._lock, self.errors(operation):
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                result = work(self._connection)
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")
            return result

    def read(self, operation: str, sql: str, parameters: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """All rows of one query (on the reading connection)."""
        with self._read_lock, self.errors(operation):
            return self._reader.execute(sql, tuple(parameters)).fetchall()

    def close(self) -> None:
        with self._lock, self.errors("close the database"):
            if self._reader is not self._connection:
                with self._read_lock:
                    self._reader.close()
            self._connection.close()


@contextlib.contextmanager
def _closing_on_error(connection: sqlite3.Connection) -> Iterator[None]:
    try:
        yield
    except BaseException:
        connection.close()
        raise


_NATIVE = frozenset({int, float, str})


def _to_cell(value: Any) -> Any:
    """A prediction or target as SQLite keeps it: numbers and strings as themselves (read back without
    any decoding), anything else (booleans, lists, objects) as a JSON blob."""
    if value is None or type(value) in _NATIVE:
        return value
    return encode_json(value).encode()


_EVENT_ROW = "(NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_EVENT_COLUMNS = _EVENT_ROW.count("?")
#: events an INSERT statement takes at most: one statement of many rows costs SQLite less than as many
#: statements of one row (bench/RESULTS.md), and a statement's values are bounded (at least 999)
_EVENTS_PER_INSERT = 500


def _insert_events_sql(count: int) -> str:
    # rows inserted in their order, each one whose (model, id) is stored already (or came earlier in the
    # statement) skipped: what as many one-row statements do
    return f"INSERT INTO events VALUES {','.join([_EVENT_ROW] * count)} ON CONFLICT (model, id) DO NOTHING"


def _insert_events(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert event rows (their columns after ``seq``) in order, skipping ids stored already."""
    per_insert = min(_EVENTS_PER_INSERT, db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // _EVENT_COLUMNS)
    full = _insert_events_sql(per_insert)
    for start in range(0, len(rows), per_insert):
        part = rows[start : start + per_insert]
        sql = full if len(part) == per_insert else _insert_events_sql(len(part))
        db.execute(sql, list(chain.from_iterable(part)))


def _from_cells(values: tuple[Any, ...]) -> list[Any]:
    if bytes not in set(map(type, values)):
        return list(values)
    return [json.loads(value) if type(value) is bytes else value for value in values]


def _from_json_or_null(texts: tuple[str | None, ...]) -> list[Any]:
    if texts.count(None) == len(texts):
        return list(texts)
    return decode_json_column(["null" if text is None else text for text in texts])


class SqliteEventStore(EventStore):
    """Events and late targets in a SQLite file."""

    def __init__(self, database: SqliteDatabase) -> None:
        self.database = database

    def add_events(self, model: str, events: Iterable[Mapping[str, Any]]) -> int:
        now = utc_now()
        rows = []
        # the events of one batch share their time of receipt (and, without a timestamp of their
        # own, take it as their timestamp): converted once
        received_at: Any = None
        received_ms = 0
        events = list(events)
        # checked events (the service's) have their features written as JSON together; any other
        # batch one event at a time, so that the first event at fault is the one named
        checked = bool(events) and set(map(type, events)) == {CheckedEvent}
        texts = object_jsons([event["features"] for event in events]) if checked else None
        for index, event in enumerate(events):
            # a checked event holds the stored fields already; the model is the argument
            doc = event if type(event) is CheckedEvent else event_document(model, event, index, now)
            try:
                if doc["received_at"] is not received_at:
                    received_at = doc["received_at"]
                    received_ms = to_ms(received_at)
                timestamp = doc["timestamp"]
                probabilities, attributions, metadata = (
                    doc["probabilities"],
                    doc["attributions"],
                    doc["metadata"],
                )
                rows.append(
                    (
                        model,
                        doc["id"],
                        received_ms if timestamp is received_at else to_ms(timestamp),
                        object_json(doc["features"]) if texts is None else texts[index],
                        _to_cell(doc["prediction"]),
                        None if probabilities is None else encode_json(probabilities),
                        _to_cell(doc["target"]),
                        doc["latency_ms"],
                        None if attributions is None else encode_json(attributions),
                        None if metadata is None else encode_json(metadata),
                        received_ms,
                    )
                )
            except (TypeError, ValueError) as exc:
                raise EventError(
                    f"event {index} of model {model!r} cannot be stored as JSON: {exc}", index
                ) from exc
        if not rows:
            return 0

        def insert(db: sqlite3.Connection) -> int:
            before = db.total_changes
            _insert_events(db, rows)
            added = db.total_changes - before
            db.execute("INSERT OR IGNORE INTO models VALUES (?)", (model,))
            return added

        return self.database.write(f"add {len(rows)} events of model {model!r}", insert)

    def upsert_targets(self, model: str, pairs: Iterable[tuple[Any, Any]]) -> int:
        now = to_ms(utc_now())
        rows = ((model, str(event_id), _target_cell(event_id, target), now) for event_id, target in pairs)

        def upsert(db: sqlite3.Connection) -> int:
            before = db.total_changes
            db.executemany(
                "INSERT INTO targets VALUES (?, ?, ?, ?) ON CONFLICT (model, id) DO UPDATE SET "
                "target = excluded.target, updated_at = excluded.updated_at",
                rows,
            )
            return db.total_changes - before

        return self.database.write(f"upsert targets of model {model!r}", upsert)

    def _event_frames(
        self, model: str, start: datetime | None, end: datetime | None, chunk_rows: int
    ) -> Iterator[pd.DataFrame]:
        low, high = _range_ms(start, end)
        # Keyset pagination: each chunk is one short query that starts after the last (ts, seq) read, so
        # no read transaction stays open between chunks and memory holds one chunk only.
        after = (low, -1)
        sql = (
            "SELECT e.seq, e.ts, e.id, e.features, e.prediction, e.probabilities,"
            " coalesce(t.target, e.target), e.latency_ms, e.attributions"
            " FROM events e LEFT JOIN targets t ON t.model = e.model AND t.id = e.id"
            " WHERE e.model = ? AND (e.ts, e.seq) > (?, ?) AND e.ts < ? ORDER BY e.ts, e.seq LIMIT ?"
        )
        while True:
            rows = self.database.read(
                f"read events of model {model!r}", sql, (model, after[0], after[1], high, chunk_rows)
            )
            if not rows:
                return
            seqs, stamps, ids, features, predictions, probabilities, targets, latencies, attributions = zip(
                *rows, strict=True
            )
            after = (stamps[-1], seqs[-1])
            yield build_frame(
                ids,
                stamps,
                json_objects_frame(features),
                _from_cells(predictions),
                _from_json_or_null(probabilities),
                _from_cells(targets),
                latencies,
                _from_json_or_null(attributions),
            )
            if len(rows) < chunk_rows:
                return

    def count(
        self, model: str, start: datetime | str | None = None, end: datetime | str | None = None
    ) -> int:
        low, high = _range_ms(start, end)
        sql = "SELECT count(*) FROM events WHERE model = ? AND ts >= ? AND ts < ?"
        return int(self.database.read(f"count events of model {model!r}", sql, (model, low, high))[0][0])

    def models(self) -> list[str]:
        return [
            row[0] for row in self.database.read("list models", "SELECT model FROM models ORDER BY model")
        ]

    def latest_timestamp(self, model: str) -> datetime | None:
        sql = "SELECT max(ts) FROM events WHERE model = ?"
        latest = self.database.read(f"find the latest event of model {model!r}", sql, (model,))[0][0]
        return None if latest is None else from_ms(latest)


def _target_cell(event_id: Any, target: Any) -> Any:
    try:
        return _to_cell(target)
    except (TypeError, ValueError) as exc:
        raise InputError(f"target of id {event_id!r} cannot be stored as JSON: {exc}") from exc


def _range_ms(start: datetime | str | None, end: datetime | str | None) -> tuple[int, int]:
    low, high = to_utc(start, "start"), to_utc(end, "end")
    return (-_NEVER if low is None else to_ms(low)), (_NEVER if high is None else to_ms(high))


def open_sqlite_store(url: str, busy_timeout: float = 30.0) -> Store:
    """Open (creating when needed) the SQLite file of ``url``."""
    database = SqliteDatabase(url, busy_timeout)
    return Store(
        url,
        SqliteEventStore(database),
        SqliteReportStore(database),
        SqliteMetricStore(database),
        database.close,
    )
