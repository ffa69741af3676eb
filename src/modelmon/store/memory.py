"""In-memory stores (``memory://``): for tests and throwaway runs; nothing survives the process."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from modelmon.errors import UnknownReportError
from modelmon.store.base import (
    MAX_METRIC_POINTS,
    EventStore,
    MetricStore,
    ReportStore,
    Store,
    metric_points,
    report_entry,
)
from modelmon.store.documents import event_document, first_of_each_id, plain, to_json, to_ms, to_utc, utc_now
from modelmon.store.frames import build_frame

__all__ = ["MemoryEventStore", "MemoryMetricStore", "MemoryReportStore", "open_memory_store"]


def _in_range(timestamp: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or timestamp >= start) and (end is None or timestamp < end)


class MemoryEventStore(EventStore):
    """Events in Python lists (unique per id, the first write wins), targets in a dict per model.

    >>> events = MemoryEventStore()
    >>> events.upsert_targets("m", [("a", 1.5)])
    1
    >>> events.add_events("m", [{"id": "a", "timestamp": "2024-01-01T00:00:00Z", "features": {"x": 1}}])
    1
    >>> next(events.read_frames("m"))[["id", "x", "target"]].to_dict("records")
    [{'id': 'a', 'x': 1, 'target': 1.5}]
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, list[dict[str, Any]]] = {}
        self._ids: dict[str, set[str]] = {}
        self._targets: dict[str, dict[str, Any]] = {}

    def add_events(self, model: str, events: Iterable[Mapping[str, Any]]) -> int:
        now = utc_now()
        documents = [event_document(model, event, index, now) for index, event in enumerate(events)]
        with self._lock:
            ids = self._ids.setdefault(model, set())
            new = [doc for doc in first_of_each_id(documents) if doc["id"] not in ids]
            ids.update(doc["id"] for doc in new)
            self._events.setdefault(model, []).extend(new)
        return len(new)

    def upsert_targets(self, model: str, pairs: Iterable[tuple[Any, Any]]) -> int:
        written = 0
        with self._lock:
            targets = self._targets.setdefault(model, {})
            for event_id, target in pairs:
                targets[str(event_id)] = plain(target)
                written += 1
        return written

    def _select(self, model: str, start: Any, end: Any) -> list[dict[str, Any]]:
        start, end = to_utc(start, "start"), to_utc(end, "end")
        with self._lock:
            events = list(self._events.get(model, []))
        # sorted() is stable, so events with equal timestamps keep their arrival order
        return sorted(
            (doc for doc in events if _in_range(doc["timestamp"], start, end)), key=lambda d: d["timestamp"]
        )

    def _event_frames(
        self, model: str, start: datetime | None, end: datetime | None, chunk_rows: int
    ) -> Iterator[pd.DataFrame]:
        selected = self._select(model, start, end)
        for offset in range(0, len(selected), chunk_rows):
            chunk = selected[offset : offset + chunk_rows]
            with self._lock:
                late = self._targets.get(model, {})
                targets = [late.get(doc["id"], doc["target"]) for doc in chunk]
            yield build_frame(
                [doc["id"] for doc in chunk],
                [to_ms(doc["timestamp"]) for doc in chunk],
                [doc["features"] for doc in chunk],
                [doc["prediction"] for doc in chunk],
                [doc["probabilities"] for doc in chunk],
                targets,
                [doc["latency_ms"] for doc in chunk],
                [doc["attributions"] for doc in chunk],
            )

    def count(
        self, model: str, start: datetime | str | None = None, end: datetime | str | None = None
    ) -> int:
        return len(self._select(model, start, end))

    def models(self) -> list[str]:
        with self._lock:
            return sorted(model for model, events in self._events.items() if events)

    def latest_timestamp(self, model: str) -> datetime | None:
        with self._lock:
            events = self._events.get(model, [])
            return max((doc["timestamp"] for doc in events), default=None)


class MemoryReportStore(ReportStore):
    """Reports in a list, newest last."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reports: list[dict[str, Any]] = []

    def save_report(
        self,
        model: str,
        report_json: Mapping[str, Any],
        html_path: str | None,
        start: datetime | str | None,
        end: datetime | str | None,
    ) -> str:
        entry = report_entry(model, report_json, html_path, start, end)
        with self._lock:
            # through JSON, as the other backends store it, so what fails there fails here too
            self._reports.append(
                {**entry, "report": json.loads(to_json(report_json, f"report of model {model!r}"))}
            )
        return str(entry["id"])

    def list_reports(self, model: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        with self._lock:
            chosen = [r for r in reversed(self._reports) if model is None or r["model"] == model][:limit]
        return [{key: value for key, value in r.items() if key != "report"} for r in chosen]

    def get_report(self, report_id: str) -> dict[str, Any]:
        with self._lock:
            for report in self._reports:
                if report["id"] == report_id:
                    return copy.deepcopy(report)
        raise UnknownReportError(f"no report with id {report_id!r} in the memory store")


class MemoryMetricStore(MetricStore):
    """Metric points in lists per model and name."""

    def __init__(self, max_points: int = MAX_METRIC_POINTS) -> None:
        self.max_points = max_points
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str], list[tuple[datetime, float]]] = {}

    def append(self, model: str, timestamp: datetime | str, values: Mapping[str, float]) -> None:
        moment = to_utc(timestamp)
        assert moment is not None
        with self._lock:
            for name, value in metric_points(values):
                series = self._series.setdefault((model, name), [])
                series.append((moment, value))
                series.sort(key=lambda point: point[0])
                del series[: -self.max_points]

    def history(
        self,
        model: str,
        names: Iterable[str] | None = None,
        since: datetime | str | None = None,
        limit: int = 1000,
    ) -> dict[str, list[tuple[datetime, float]]]:
        start = to_utc(since, "since")
        wanted = None if names is None else set(names)
        with self._lock:
            found = {
                name: [p for p in points if start is None or p[0] >= start][-limit:] if limit > 0 else []
                for (owner, name), points in self._series.items()
                if owner == model and (wanted is None or name in wanted)
            }
        return {name: points for name, points in sorted(found.items()) if points}


def open_memory_store(url: str = "memory://") -> Store:
    """A fresh, empty in-memory store."""
    return Store(url, MemoryEventStore(), MemoryReportStore(), MemoryMetricStore())
