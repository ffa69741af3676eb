"""PostgreSQL stores (``postgresql://user:pass@host:5432/db``), through psycopg 3 and its connection
pool (the ``postgres`` extra).

Tables ``events``, ``targets``, ``models``, ``reports`` and ``metrics`` in the URL's database (the
schema first on the connection's ``search_path``: ``?options=-csearch_path%3Dmonitoring`` picks
another). An event is one row: typed columns for what is searched and joined (model, id, timestamp,
target, latency) and the rest of the document (features, prediction, probabilities, attributions,
metadata) as JSONB. Events are unique per (model, id): the first write wins and a resend is skipped
in the same statement. Late targets are upserted into ``targets`` and joined by id in the statement
that reads the events, so a target may arrive before or after its event. Range reads stream from
a server-side cursor, ``chunk_rows`` rows per fetch.

Several processes on several hosts may share one database. Writes of one model are serialized by
a transaction-scoped advisory lock (two batches with the same ids in different orders would
otherwise deadlock). A write or read cut by a dropped connection, a server restart or a deadlock is
retried on a fresh connection (the unique key makes a retried batch land once; a read resumes after
the last row it yielded); a statement that runs past ``statement_timeout`` (60 s unless the URL's
``options`` set it) is not retried and surfaces as a :class:`~modelmon.errors.StoreError`.

JSONB cannot hold NaN or infinity (which features may be) nor the NUL character: a value that holds
them is stored as ``{"$json": "<its JSON text as Python writes it>"}`` and decoded back on read.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import Any, TypeVar

import pandas as pd

from modelmon.errors import EventError, InputError, StoreError, require
from modelmon.store.base import EventStore, Store, redact_url
from modelmon.store.documents import encode_json, event_document, from_ms, to_utc, utc_now
from modelmon.store.frames import build_frame, decode_json_column, json_objects_frame

__all__ = ["PostgresDatabase", "PostgresEventStore", "jsonb_text", "open_postgres_store"]

log = logging.getLogger("modelmon.store")

T = TypeVar("T")

#: seconds a statement may run before the server cancels it, unless the URL's options say otherwise
STATEMENT_TIMEOUT = 60.0
#: pauses between the attempts of an operation cut by a lost connection (about 8 s in all: a server
#: restart fits in)
RETRY_DELAYS = (0.1, 0.3, 0.6, 1.0, 2.0, 4.0)
#: pairs sent per statement when upserting targets (bounds the statement's size for millions of ids)
TARGET_BATCH = 200_000
_WRAPPED = '{"$json": '
# advisory lock keys (first of two int4 keys): table setup, and the writes of one model
_SETUP_LOCK, _EVENTS_LOCK = 7_300, 7_301
_CURSOR_NUMBERS = itertools.count()
_FIRST, _LAST = datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, model text NOT NULL, id text,
    ts timestamptz NOT NULL, target jsonb, latency_ms double precision, received_at timestamptz NOT NULL,
    doc jsonb NOT NULL, CONSTRAINT events_model_id UNIQUE (model, id)
);
CREATE INDEX IF NOT EXISTS events_model_ts ON events (model, ts, seq);
CREATE TABLE IF NOT EXISTS targets (
    model text NOT NULL, id text NOT NULL, target jsonb NOT NULL, updated_at timestamptz NOT NULL,
    PRIMARY KEY (model, id)
);
CREATE TABLE IF NOT EXISTS models (model text PRIMARY KEY);
CREATE TABLE IF NOT EXISTS reports (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id text NOT NULL UNIQUE, model text NOT NULL,
    created_at timestamptz NOT NULL, period_start timestamptz, period_end timestamptz, html_path text,
    headline text NOT NULL, report text NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_model ON reports (model, seq);
CREATE TABLE IF NOT EXISTS metrics (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, model text NOT NULL, name text NOT NULL,
    ts timestamptz NOT NULL, value double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_model_name_ts ON metrics (model, name, ts, seq);
"""

# Each connection's own staging tables: a batch arrives by COPY (the fast path of the protocol), then
# one INSERT ... SELECT moves it into place; emptied at the end of every transaction.
_STAGING = """
CREATE TEMPORARY TABLE IF NOT EXISTS incoming_events (
    arrival bigint, id text, ts timestamptz, target jsonb, latency_ms double precision,
    received_at timestamptz, doc jsonb
) ON COMMIT DELETE ROWS;
CREATE TEMPORARY TABLE IF NOT EXISTS incoming_targets (id text, target jsonb) ON COMMIT DELETE ROWS;
"""


def jsonb_text(value: Any) -> str:
    """JSON text that JSONB takes: a value JSONB cannot hold as is is wrapped (see the module doc).

    >>> jsonb_text({"x": 1.5}), jsonb_text({"x": float("inf")})
    ('{"x":1.5}', '{"$json": "{\\\\"x\\\\":Infinity}"}')
    """
    kind = type(value)
    if kind is int or (kind is float and math.isfinite(value)):
        return repr(value)  # the common late target, without the encoder's set-up
    text = encode_json(value)
    if "\\u0000" in text or (("NaN" in text or "Infinity" in text) and _has_nonfinite(value)):
        return _WRAPPED + encode_json(text) + "}"
    return text


def _has_nonfinite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(map(_has_nonfinite, value.values()))
    if isinstance(value, list | tuple):
        return any(map(_has_nonfinite, value))
    return False


def _unwrap(texts: Sequence[str]) -> Sequence[str]:
    """JSON texts read back, wrapped values replaced by the JSON text they hold."""
    if _WRAPPED not in "".join(texts):
        return texts
    return [json.loads(text)["$json"] if text.startswith(_WRAPPED) else text for text in texts]


class PostgresDatabase:
    """The connection pool of a URL, the tables, and the mapping of driver errors to :class:`StoreError`."""

    def __init__(
        self, url: str, statement_timeout: float = STATEMENT_TIMEOUT, connect_timeout: float = 10.0
    ) -> None:

        self.url = redact_url(url)
        self.psycopg = require("psycopg", "postgres")
        pool_module = require("psycopg_pool", "postgres")
        conninfo = self.psycopg.conninfo
        try:
            params = conninfo.conninfo_to_dict(url.replace("postgres://", "postgresql://", 1))
        except self.psycopg.Error as exc:
            raise StoreError(f"PostgreSQL store {self.url}: the URL is malformed: {exc}") from exc
        options = params.get("options") or ""
        if "statement_timeout" not in options:
            options += f" -c statement_timeout={int(statement_timeout * 1000)}"
        params.update(
            options=f"{options} -c TimeZone=UTC".strip(),
            application_name=params.get("application_name") or "modelmon",
            connect_timeout=params.get("connect_timeout") or int(connect_timeout),
        )
        dsn = conninfo.make_conninfo(**params)
        # one connection first, outside the pool: an unreachable server or a wrong password fails at
        # once with the driver's own reason (the pool would only say it timed out)
        with self.errors("connect"), self.psycopg.connect(dsn) as connection, connection.transaction():
            self._create_tables(connection)
        self.pool = pool_module.ConnectionPool(
            dsn,
            min_size=1,
            max_size=8,
            open=False,
            check=pool_module.ConnectionPool.check_connection,
            configure=self._create_staging,
            timeout=connect_timeout,
            name="modelmon",
        )
        try:
            with self.errors("connect"):
                self.pool.open(wait=True, timeout=connect_timeout)
        except BaseException:
            self.pool.close()
            raise

    @staticmethod
    def _create_tables(connection: Any) -> None:
        # two processes opening a fresh database at once would race on CREATE ... IF NOT EXISTS
        connection.execute("SELECT pg_advisory_xact_lock(%s, 0)", (_SETUP_LOCK,))
        connection.execute(_SCHEMA)

    @staticmethod
    def _create_staging(connection: Any) -> None:
        connection.execute(_STAGING)
        connection.commit()

    def retryable(self, exc: BaseException) -> bool:
        """A lost connection, a restart or a deadlock: worth another attempt. A timeout is not."""
        errors = self.psycopg.errors
        return isinstance(exc, self.psycopg.OperationalError) and not isinstance(exc, errors.QueryCanceled)

    @contextlib.contextmanager
    def errors(self, operation: str) -> Iterator[None]:
        """Turn a driver error into a :class:`StoreError` that names the URL and the operation (an
        :class:`InputError` when the server refused the data itself)."""
        try:
            yield
        except self.psycopg.DataError as exc:
            raise InputError(f"PostgreSQL store {self.url}: cannot {operation}: {exc}") from exc
        except self.psycopg.Error as exc:
            hint = ""
            if isinstance(exc, self.psycopg.errors.QueryCanceled):
                hint = (
                    " (the statement ran past statement_timeout: a lock held elsewhere or a busy server;"
                    " the URL's options=-cstatement_timeout%3D<ms> sets the limit)"
                )
            raise StoreError(f"PostgreSQL store {self.url}: cannot {operation}: {exc}{hint}") from exc

    def retry_or_raise(self, operation: str, exc: BaseException, attempt: int) -> None:
        """Pause before attempt ``attempt + 1`` of ``operation``, or raise what ``exc`` means when
        it is not worth retrying or the attempts are used up."""
        if attempt >= len(RETRY_DELAYS) or not self.retryable(exc):
            with self.errors(operation):
                raise exc
        log.warning("PostgreSQL store %s: %s failed (%s); retrying", self.url, operation, exc)
        time.sleep(RETRY_DELAYS[attempt])

    def write(self, operation: str, work: Callable[[Any], T]) -> T:
        """Run ``work(connection)`` in one transaction (all or nothing), again on a lost connection."""
        for attempt in itertools.count():
            try:
                with self.pool.connection() as connection, connection.transaction():
                    return work(connection)
            except self.psycopg.Error as exc:
                self.retry_or_raise(operation, exc, attempt)
        raise AssertionError("unreachable")

    def read(self, operation: str, sql: str, parameters: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """All rows of one query."""
        return self.write(operation, lambda connection: connection.execute(sql, tuple(parameters)).fetchall())

    def close(self) -> None:
        self.pool.close()


def _event_row(model: str, event: Mapping[str, Any], index: int, now: datetime) -> tuple[Any, ...]:
    doc = event_document(model, event, index, now)
    target = doc["target"]
    try:
        return (
            doc["id"],
            doc["timestamp"],
            None if target is None else jsonb_text(target),
            doc["latency_ms"],
            doc["received_at"],
            _document_text(doc),
        )
    except (TypeError, ValueError) as exc:
        raise EventError(f"event {index} of model {model!r} cannot be stored as JSON: {exc}", index) from exc


#: the fields of an event kept in its JSONB document (the others have typed columns)
DOCUMENT_FIELDS = ("features", "prediction", "probabilities", "attributions", "metadata")


def _document_text(doc: Mapping[str, Any]) -> str:
    fields = {key: doc[key] for key in DOCUMENT_FIELDS}
    text = encode_json(fields)
    if "\\u0000" in text or "NaN" in text or "Infinity" in text:
        # wrapped field by field, so that the other fields stay plain JSONB
        text = "{" + ",".join(f'"{key}":{jsonb_text(value)}' for key, value in fields.items()) + "}"
    return text


_INSERT_EVENTS = """
INSERT INTO events (model, id, ts, target, latency_ms, received_at, doc)
SELECT %s, id, ts, target, latency_ms, received_at, doc FROM incoming_events ORDER BY arrival
ON CONFLICT (model, id) DO NOTHING
"""

_UPSERT_TARGETS = """
INSERT INTO targets (model, id, target, updated_at)
SELECT %s, id, target, now() FROM incoming_targets ORDER BY id
ON CONFLICT (model, id) DO UPDATE SET target = excluded.target, updated_at = excluded.updated_at
"""


def _copy(connection: Any, table: str, rows: Iterable[tuple[Any, ...]]) -> None:
    with connection.cursor().copy(f"COPY {table} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


# one statement: the stored targets (model, id) joined to the events as they stream
_READ_EVENTS = """
SELECT e.seq, (extract(epoch FROM e.ts) * 1000)::int8, e.id, (e.doc->'features')::text,
       coalesce((e.doc->'prediction')::text, 'null'), coalesce((e.doc->'probabilities')::text, 'null'),
       coalesce(t.target, e.target, 'null')::text, e.latency_ms,
       coalesce((e.doc->'attributions')::text, 'null')
FROM events e LEFT JOIN targets t ON t.model = e.model AND t.id = e.id
WHERE e.model = %s AND (e.ts, e.seq) > (%s, %s) AND e.ts < %s
ORDER BY e.ts, e.seq
"""


class PostgresEventStore(EventStore):
    """Events in ``events`` (JSONB documents with typed columns), late targets in ``targets``."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database

    def add_events(self, model: str, events: Iterable[Mapping[str, Any]]) -> int:
        now = utc_now()
        rows = [(index, *_event_row(model, event, index, now)) for index, event in enumerate(events)]
        if not rows:
            return 0

        def insert(connection: Any) -> int:
            connection.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_EVENTS_LOCK, model))
            _copy(connection, "incoming_events", rows)
            added = connection.execute(_INSERT_EVENTS, (model,)).rowcount
            connection.execute("INSERT INTO models VALUES (%s) ON CONFLICT DO NOTHING", (model,))
            return int(added)

        return self.database.write(f"add {len(rows)} events of model {model!r}", insert)

    def upsert_targets(self, model: str, pairs: Iterable[tuple[Any, Any]]) -> int:
        written = 0
        latest: dict[str, str] = {}
        for event_id, target in pairs:
            try:
                latest[str(event_id)] = jsonb_text(target)
            except (TypeError, ValueError) as exc:
                raise InputError(f"target of id {event_id!r} cannot be stored as JSON: {exc}") from exc
            written += 1

        def upsert(connection: Any) -> None:
            # one batch at a time: each statement stays short, the whole upload is one transaction
            batches = iter(latest.items())
            while batch := list(islice(batches, TARGET_BATCH)):
                _copy(connection, "incoming_targets", batch)
                # the ids in order: two processes upserting the same ids lock their rows in one order
                connection.execute(_UPSERT_TARGETS, (model,))
                connection.execute("TRUNCATE incoming_targets")

        if latest:
            self.database.write(f"upsert {len(latest)} targets of model {model!r}", upsert)
        return written

    def _event_frames(
        self, model: str, start: datetime | None, end: datetime | None, chunk_rows: int
    ) -> Iterator[pd.DataFrame]:
        low, high = _range(start, end)
        after: tuple[datetime, int] = (low, -1)
        attempt = 0
        while True:
            try:
                with contextlib.closing(self._stream(model, after, high, chunk_rows)) as chunks:
                    for rows in chunks:
                        # a dropped connection resumes after the last row handed out
                        after, attempt = (from_ms(rows[-1][1]), rows[-1][0]), 0
                        yield _frame(rows)
                return
            except self.database.psycopg.Error as exc:
                self.database.retry_or_raise(f"read events of model {model!r}", exc, attempt)
                attempt += 1

    def _stream(
        self, model: str, after: tuple[datetime, int], high: datetime, chunk_rows: int
    ) -> Generator[list[tuple[Any, ...]], None, None]:
        with (
            self.database.pool.connection() as connection,
            connection.cursor(name=f"modelmon_read_{next(_CURSOR_NUMBERS)}") as cursor,
        ):
            cursor.execute(_READ_EVENTS, (model, after[0], after[1], high))
            while rows := cursor.fetchmany(chunk_rows):
                yield rows

    def count(
        self, model: str, start: datetime | str | None = None, end: datetime | str | None = None
    ) -> int:
        low, high = _range(start, end)
        sql = "SELECT count(*) FROM events WHERE model = %s AND ts >= %s AND ts < %s"
        return int(self.database.read(f"count events of model {model!r}", sql, (model, low, high))[0][0])

    def models(self) -> list[str]:
        rows = self.database.read("list models", "SELECT model FROM models ORDER BY model")
        return [row[0] for row in rows]

    def latest_timestamp(self, model: str) -> datetime | None:
        sql = "SELECT max(ts) FROM events WHERE model = %s"
        latest = self.database.read(f"find the latest event of model {model!r}", sql, (model,))[0][0]
        return to_utc(latest)


def _range(start: datetime | str | None, end: datetime | str | None) -> tuple[datetime, datetime]:
    low, high = to_utc(start, "start"), to_utc(end, "end")
    return (_FIRST if low is None else low), (_LAST if high is None else high)


def _frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    _, stamps, ids, features, predictions, probabilities, targets, latencies, attributions = zip(
        *rows, strict=True
    )
    return build_frame(
        ids,
        stamps,
        json_objects_frame(_unwrap(features)),
        decode_json_column(_unwrap(predictions)),
        decode_json_column(_unwrap(probabilities)),
        decode_json_column(_unwrap(targets)),
        latencies,
        decode_json_column(_unwrap(attributions)),
    )


def open_postgres_store(url: str, statement_timeout: float = STATEMENT_TIMEOUT) -> Store:
    """Connect to ``url``, create the tables when needed, and return the stores."""
    from modelmon.store.postgres_history import PostgresMetricStore, PostgresReportStore

    database = PostgresDatabase(url, statement_timeout)
    return Store(
        database.url,
        PostgresEventStore(database),
        PostgresReportStore(database),
        PostgresMetricStore(database),
        database.close,
    )
