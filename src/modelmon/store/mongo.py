"""MongoDB stores (``mongodb://host:27017/modelmon``), through pymongo (the ``mongo`` extra).

Collections ``events``, ``targets``, ``reports`` and ``metrics`` in the URL's database (``modelmon``
when the URL names none). Events are indexed on (model, timestamp) and uniquely on (model, id), so an
event sent twice is stored once (the first write wins); targets are
upserted in unordered bulk writes keyed by (model, id) and joined to each chunk of events when read,
so a target may arrive before or after its event. Reads stream from one server-side cursor.

>>> import mongomock
>>> store = open_mongo_store("mongodb://localhost/modelmon", client=mongomock.MongoClient())
>>> store.events.add_events("m", [{"id": "a", "timestamp": "2024-01-01T00:00:00Z", "features": {"x": 1}}])
1
>>> next(store.events.read_frames("m"))[["id", "x"]].to_dict("records")
[{'id': 'a', 'x': 1}]
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from itertools import islice
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from modelmon.errors import StoreError, UnknownReportError, require
from modelmon.store.base import (
    MAX_METRIC_POINTS,
    EventStore,
    MetricStore,
    ReportStore,
    Store,
    finite_or_nan,
    headline,
    metric_points,
    redact_url,
    report_entry,
)
from modelmon.store.documents import event_document, first_of_each_id, plain, to_json, to_ms, to_utc, utc_now
from modelmon.store.frames import build_frame

__all__ = ["MongoEventStore", "MongoMetricStore", "MongoReportStore", "open_mongo_store"]

#: operations sent per bulk write when upserting targets (bounds client memory for millions of ids)
TARGET_BATCH = 10_000
#: MongoDB's error code for a write that a unique index refuses
_DUPLICATE_KEY = 11000


class MongoDatabase:
    """The database of a URL and the mapping of driver errors to :class:`StoreError`."""

    def __init__(self, url: str, database: Any) -> None:

        self.url = redact_url(url)
        self.db = database
        self._errors = require("pymongo", "mongo").errors.PyMongoError

    @contextlib.contextmanager
    def errors(self, operation: str) -> Iterator[None]:
        """Turn a driver error into a :class:`StoreError` that names the URL and the operation."""
        try:
            yield
        except self._errors as exc:
            raise StoreError(f"MongoDB store {self.url}: cannot {operation}: {exc}") from exc


def _range_filter(model: str, start: datetime | str | None, end: datetime | str | None) -> dict[str, Any]:
    low, high = to_utc(start, "start"), to_utc(end, "end")
    window = {key: value for key, value in (("$gte", low), ("$lt", high)) if value is not None}
    return {"model": model, "timestamp": window} if window else {"model": model}


def _ms(value: datetime) -> int:
    return to_ms(to_utc(value))  # type: ignore[arg-type]


class MongoEventStore(EventStore):
    """Events in ``events``, late targets in ``targets``."""

    def __init__(self, database: MongoDatabase) -> None:
        self.database = database
        self.events = database.db["events"]
        self.targets = database.db["targets"]

    def add_events(self, model: str, events: Iterable[Mapping[str, Any]]) -> int:
        now = utc_now()
        documents = [event_document(model, event, index, now) for index, event in enumerate(events)]
        documents = first_of_each_id(documents)
        if not documents:
            return 0
        bulk_write_error = require("pymongo", "mongo").errors.BulkWriteError
        with self.database.errors(f"add {len(documents)} events of model {model!r}"):
            try:
                return len(self.events.insert_many(documents, ordered=False).inserted_ids)
            except bulk_write_error as exc:
                # the unique (model, id) index refuses ids already stored: the first write wins
                errors = exc.details.get("writeErrors", [])
                if any(error.get("code") != _DUPLICATE_KEY for error in errors):
                    raise
                return int(exc.details.get("nInserted", len(documents) - len(errors)))

    def upsert_targets(self, model: str, pairs: Iterable[tuple[Any, Any]]) -> int:
        update_one = require("pymongo", "mongo").UpdateOne
        now = utc_now()
        written = 0
        pairs = iter(pairs)
        while batch := list(islice(pairs, TARGET_BATCH)):
            operations = [
                update_one(
                    {"model": model, "id": str(event_id)},
                    {"$set": {"target": plain(target), "updated_at": now}},
                    upsert=True,
                )
                for event_id, target in batch
            ]
            with self.database.errors(f"upsert {len(batch)} targets of model {model!r}"):
                self.targets.bulk_write(operations, ordered=False)
            written += len(batch)
        return written

    def _event_frames(
        self, model: str, start: datetime | None, end: datetime | None, chunk_rows: int
    ) -> Iterator[pd.DataFrame]:
        skipped = {"_id": 0, "model": 0, "metadata": 0, "received_at": 0}
        with self.database.errors(f"read events of model {model!r}"):
            cursor = (
                self.events.find(_range_filter(model, start, end), skipped)
                .sort("timestamp", 1)
                .batch_size(min(chunk_rows, 10_000))
            )
            try:
                while chunk := list(islice(cursor, chunk_rows)):
                    yield self._frame(model, chunk)
            finally:
                cursor.close()

    def _frame(self, model: str, chunk: list[dict[str, Any]]) -> pd.DataFrame:
        ids = [doc.get("id") for doc in chunk]
        wanted = list({event_id for event_id in ids if event_id is not None})
        late: dict[str | None, Any] = {}
        # several small $in queries: one query document must stay far below MongoDB's 16 MB limit
        for offset in range(0, len(wanted), TARGET_BATCH):
            query = {"model": model, "id": {"$in": wanted[offset : offset + TARGET_BATCH]}}
            for found in self.targets.find(query, {"_id": 0, "id": 1, "target": 1}):
                late[found["id"]] = found.get("target")
        return build_frame(
            ids,
            [_ms(doc["timestamp"]) for doc in chunk],
            [doc.get("features") or {} for doc in chunk],
            [doc.get("prediction") for doc in chunk],
            [doc.get("probabilities") for doc in chunk],
            [late.get(doc.get("id"), doc.get("target")) for doc in chunk],
            [doc.get("latency_ms") for doc in chunk],
            [doc.get("attributions") for doc in chunk],
        )

    def count(
        self, model: str, start: datetime | str | None = None, end: datetime | str | None = None
    ) -> int:
        with self.database.errors(f"count events of model {model!r}"):
            return int(self.events.count_documents(_range_filter(model, start, end)))

    def models(self) -> list[str]:
        with self.database.errors("list models"):
            return sorted(self.events.distinct("model"))

    def latest_timestamp(self, model: str) -> datetime | None:
        with self.database.errors(f"find the latest event of model {model!r}"):
            newest = self.events.find_one({"model": model}, {"timestamp": 1}, sort=[("timestamp", -1)])
        return None if newest is None else to_utc(newest["timestamp"])


def _entry(doc: Mapping[str, Any]) -> dict[str, Any]:
    entry = {key: doc.get(key) for key in ("id", "model", "created_at", "start", "end", "html_path")}
    for key in ("created_at", "start", "end"):
        entry[key] = to_utc(entry[key])
    entry.update({key: doc.get(key) for key in headline({})})
    return entry


class MongoReportStore(ReportStore):
    """Reports in ``reports``: headline numbers as fields, the report as JSON text (column names may
    hold dots or dollars, which MongoDB field names may not)."""

    def __init__(self, database: MongoDatabase) -> None:
        self.database = database
        self.reports = database.db["reports"]

    def save_report(
        self,
        model: str,
        report_json: Mapping[str, Any],
        html_path: str | None,
        start: datetime | str | None,
        end: datetime | str | None,
    ) -> str:
        document = {
            **report_entry(model, report_json, html_path, start, end),
            **plain(headline(report_json)),
            "report": to_json(report_json, f"report of model {model!r}"),
        }
        with self.database.errors(f"save a report of model {model!r}"):
            self.reports.insert_one(document)
        return str(document["id"])

    def list_reports(self, model: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        query = {} if model is None else {"model": model}
        with self.database.errors("list reports"):
            found = (
                self.reports.find(query, {"report": 0}).sort([("created_at", -1), ("_id", -1)]).limit(limit)
            )
            return [_entry(doc) for doc in found]

    def get_report(self, report_id: str) -> dict[str, Any]:
        import json

        with self.database.errors(f"read report {report_id!r}"):
            doc = self.reports.find_one({"id": str(report_id)})
        if doc is None:
            raise UnknownReportError(f"no report with id {report_id!r} in {self.database.url}")
        return {**_entry(doc), "report": json.loads(doc["report"])}


class MongoMetricStore(MetricStore):
    """Metric points in ``metrics``, at most ``max_points`` per model and name."""

    def __init__(self, database: MongoDatabase, max_points: int = MAX_METRIC_POINTS) -> None:
        self.database = database
        self.metrics = database.db["metrics"]
        self.max_points = max_points

    def append(self, model: str, timestamp: datetime | str, values: Mapping[str, float]) -> None:
        moment = to_utc(timestamp)
        points = [
            {"model": model, "name": name, "timestamp": moment, "value": value}
            for name, value in metric_points(values)
        ]
        if not points:
            return
        with self.database.errors(f"append metrics of model {model!r}"):
            self.metrics.insert_many(points, ordered=False)
            for point in points:
                # pruned on every append, so only the few points beyond the limit are fetched
                beyond = self.metrics.find({"model": model, "name": point["name"]}, {"_id": 1})
                beyond = beyond.sort([("timestamp", -1), ("_id", -1)]).skip(self.max_points)
                stale = [doc["_id"] for doc in beyond]
                if stale:
                    self.metrics.delete_many({"_id": {"$in": stale}})

    def history(
        self,
        model: str,
        names: Iterable[str] | None = None,
        since: datetime | str | None = None,
        limit: int = 1000,
    ) -> dict[str, list[tuple[datetime, float]]]:
        low = to_utc(since, "since")
        history = {}
        with self.database.errors(f"read metric history of model {model!r}"):
            chosen = self.metrics.distinct("name", {"model": model}) if names is None else names
            for name in sorted(set(chosen)):
                query: dict[str, Any] = {"model": model, "name": name}
                if low is not None:
                    query["timestamp"] = {"$gte": low}
                found = list(
                    self.metrics.find(query).sort([("timestamp", -1), ("_id", -1)]).limit(max(limit, 0))
                )
                if found and limit > 0:
                    history[name] = [
                        (to_utc(d["timestamp"]), finite_or_nan(d["value"])) for d in reversed(found)
                    ]
        return history  # type: ignore[return-value]


_INDEXES: dict[str, list[tuple[list[tuple[str, int]], dict[str, Any]]]] = {
    "events": [
        ([("model", 1), ("timestamp", 1)], {}),
        ([("model", 1), ("id", 1)], {"unique": True, "name": "model_id_unique"}),
    ],
    "targets": [([("model", 1), ("id", 1)], {"unique": True})],
    "reports": [([("id", 1)], {"unique": True}), ([("model", 1), ("created_at", -1)], {})],
    "metrics": [([("model", 1), ("name", 1), ("timestamp", -1)], {})],
}


def _drop_plain_id_index(events: Any) -> None:
    """Databases made before ids were unique have a plain (model, id) index, replaced by a unique one.

    Repeated ids already stored are left for an operator to remove: the unique index cannot be built
    until then, and the error says so.
    """
    if "model_1_id_1" in events.index_information():
        events.drop_index("model_1_id_1")


def open_mongo_store(url: str, client: Any = None, timeout_ms: int = 5000) -> Store:
    """Connect to ``url`` (or use ``client``), create the indexes, and return the stores.

    ``timeout_ms`` bounds how long an unreachable server is waited for, unless the URL sets
    ``serverSelectionTimeoutMS`` itself.
    """
    pymongo = require("pymongo", "mongo")
    name = urlsplit(url).path.strip("/") or "modelmon"
    own_client = client is None
    if own_client:
        options = (
            {} if "serverselectiontimeoutms" in url.lower() else {"serverSelectionTimeoutMS": timeout_ms}
        )
        try:
            client = pymongo.MongoClient(url, tz_aware=True, **options)
        except (pymongo.errors.PyMongoError, ValueError) as exc:
            raise StoreError(f"MongoDB store {redact_url(url)}: cannot connect: {exc}") from exc
    database = MongoDatabase(url, client[name])
    try:
        with database.errors("create the indexes"):
            _drop_plain_id_index(database.db["events"])
            for collection, indexes in _INDEXES.items():
                for keys, options in indexes:
                    database.db[collection].create_index(keys, **options)
    except StoreError:
        if own_client:
            client.close()
        raise
    return Store(
        database.url,
        MongoEventStore(database),
        MongoReportStore(database),
        MongoMetricStore(database),
        client.close if own_client else (lambda: None),
    )
