"""The three storage interfaces, split by concern, and the rules every backend shares.

- :class:`EventStore`: what the prediction service saw and answered (one document per prediction),
  with ground truth that arrives later joined by id;
- :class:`ReportStore`: batch reports (their JSON and where their HTML file is);
- :class:`MetricStore`: the time series of headline numbers the dashboard draws.

Each backend (memory, SQLite, MongoDB) implements all three; :class:`Store` bundles them. The
event document they keep, its fields and how they are made plain, is in
:mod:`~modelmon.store.documents`. Shared rules, so that every backend answers the same:

- timestamps are UTC and kept to the millisecond (MongoDB's precision); naive ones are taken as UTC;
- a time range is ``[start, end)``; ``None`` leaves that side open;
- event ids are strings (``123`` and ``"123"`` are the same id); an event sent without one gets a
  fresh random id;
- events are unique per model + id and the first write wins: storing an event again (a resend after
  a timeout, a replay after a restart) never makes a second row and never changes the stored one;
- a late target wins over the target the event was sent with; the last upsert of an id wins.
"""

from __future__ import annotations

import abc
import json
import math
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd

from modelmon.errors import InputError, UnknownReportError
from modelmon.store.documents import to_json, to_utc, utc_now

__all__ = [
    "EventStore",
    "MetricStore",
    "ReportStore",
    "Store",
    "headline",
    "report_entry",
]

#: default number of points kept per metric name (older ones are dropped on append)
MAX_METRIC_POINTS = 10_000

#: how far back :meth:`EventStore.recent_frames` looks for the start of the newest rows
_LONGEST_SPAN = timedelta(days=365 * 50)


def redact_url(url: str) -> str:
    """``url`` without its password, fit for messages and logs.

    >>> redact_url("mongodb://monitor:secret@db:27017/modelmon")
    'mongodb://monitor:***@db:27017/modelmon'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def headline(report: Mapping[str, Any]) -> dict[str, Any]:
    """The numbers a report list shows, taken from a report JSON when present.

    >>> headline({"reference_rows": 10, "drift": {"dataset_drift": True, "drifted_share": 0.5}})
    {'reference_rows': 10, 'current_rows': None, 'dataset_drift': True, 'drifted_share': 0.5}
    """
    drift = report.get("drift")
    drift = drift if isinstance(drift, Mapping) else {}
    return {
        "reference_rows": report.get("reference_rows"),
        "current_rows": report.get("current_rows"),
        "dataset_drift": drift.get("dataset_drift"),
        "drifted_share": drift.get("drifted_share"),
    }


def finite_or_nan(value: float | None) -> float:
    """A stored metric value; SQLite turns NaN into NULL, which comes back here as NaN."""
    return math.nan if value is None else float(value)


def metric_points(values: Mapping[str, Any]) -> list[tuple[str, float]]:
    """``(name, value)`` pairs to store; ``None`` (not computable this time) is kept as NaN.

    >>> metric_points({"metric.mae": 1, "metric.r2": None})
    [('metric.mae', 1.0), ('metric.r2', nan)]
    """
    points = []
    for name, value in values.items():
        try:
            points.append((str(name), math.nan if value is None else float(value)))
        except (TypeError, ValueError) as exc:
            raise InputError(f"metric {name!r}: expected a number, got {value!r}") from exc
    return points


class EventStore(abc.ABC):
    """Prediction events of every model, with late targets joined by id."""

    @abc.abstractmethod
    def add_events(self, model: str, events: Iterable[Mapping[str, Any]]) -> int:
        """Store events (see :func:`event_document` for the fields) in bulk; return how many were new.

        An event whose model + id is already stored is skipped (the first write wins), so sending a
        batch again stores nothing twice. A target uploaded earlier for an event's id applies to it
        (targets are joined when read).
        """

    @abc.abstractmethod
    def upsert_targets(self, model: str, pairs: Iterable[tuple[Any, Any]]) -> int:
        """Record ground truth as ``(id, target)`` pairs; return how many pairs were written.

        Targets for ids with no event yet are kept and apply when the event arrives.
        """

    def read_frames(
        self,
        model: str,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        chunk_rows: int = 50_000,
    ) -> Iterator[pd.DataFrame]:
        """Stream the events of ``[start, end)`` ordered by timestamp, ``chunk_rows`` rows per frame.

        Columns: ``id``, ``timestamp`` (UTC), one per feature, ``prediction``, ``probability`` (number
        probabilities) or ``proba_<class>`` (per-class ones), ``target``, ``latency_ms`` and
        ``attr_<feature>`` (attributions). An empty range yields no frame. Memory does not grow with the
        range. The arguments are checked here, for every backend, when called rather than when the
        first frame is asked for: a ``ValueError`` for ``chunk_rows`` below 1, an ``InputError`` for a
        time that is not one.
        """
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be a positive number of rows, got {chunk_rows}")
        return self._event_frames(model, to_utc(start, "start"), to_utc(end, "end"), chunk_rows)

    @abc.abstractmethod
    def _event_frames(
        self, model: str, start: datetime | None, end: datetime | None, chunk_rows: int
    ) -> Iterator[pd.DataFrame]:
        """The frames of :meth:`read_frames` once its arguments are checked (``start`` and ``end`` in UTC)."""

    @abc.abstractmethod
    def count(
        self, model: str, start: datetime | str | None = None, end: datetime | str | None = None
    ) -> int:
        """Number of events of ``model`` in ``[start, end)``."""

    @abc.abstractmethod
    def models(self) -> list[str]:
        """Names of the models that have events, sorted."""

    @abc.abstractmethod
    def latest_timestamp(self, model: str) -> datetime | None:
        """Timestamp of the newest event of ``model``, or ``None`` when it has none."""

    def recent_frames(
        self,
        model: str,
        rows: int | None = None,
        since: datetime | str | None = None,
        chunk_rows: int = 50_000,
    ) -> Iterator[pd.DataFrame]:
        """The newest events of ``model``, oldest first: the last ``rows`` of them, or those since ``since``.

        Used to rebuild a sliding window after a restart. Built on :meth:`count` and
        :meth:`read_frames`, so every backend has it; the start time is found by widening a time span
        back from the newest event until it holds ``rows`` events.
        """
        if rows is None:
            yield from self.read_frames(model, since, None, chunk_rows)
            return
        if rows < 1:
            return
        latest = self.latest_timestamp(model)
        if latest is None:
            return
        start: datetime | None = None
        if self.count(model) > rows:
            span = timedelta(seconds=1)
            while span < _LONGEST_SPAN:
                start = latest - span
                if self.count(model, start) >= rows:
                    break
                span *= 4
            else:
                start = None
        skip = self.count(model, start) - rows
        for frame in self.read_frames(model, start, None, chunk_rows):
            if skip >= len(frame):
                skip -= len(frame)
                continue
            yield frame.iloc[skip:].reset_index(drop=True) if skip > 0 else frame
            skip = 0


def report_entry(
    model: str, report_json: Mapping[str, Any], html_path: str | None, start: Any, end: Any
) -> dict[str, Any]:
    """The list entry of a new report: a fresh id, its period, its HTML file and its headline numbers."""
    return {
        "id": uuid.uuid4().hex,
        "model": model,
        "created_at": utc_now(),
        "start": to_utc(start, "start"),
        "end": to_utc(end, "end"),
        "html_path": None if html_path is None else str(html_path),
        **headline(report_json),
    }


#: the columns of a report's list entry in the SQL stores, in the order :func:`stored_entry` reads them
REPORT_COLUMNS = "id, model, created_at, period_start, period_end, html_path, headline"


def report_row(
    model: str,
    report_json: Mapping[str, Any],
    html_path: str | None,
    start: Any,
    end: Any,
    moment: Callable[[datetime | None], Any],
) -> tuple[Any, ...]:
    """A new report as a SQL row of :data:`REPORT_COLUMNS` plus ``report``; ``moment`` writes a time.

    The headline numbers and the report are JSON text, so NaN is kept as written.

    >>> report = {"drift": {"drifted_share": float("nan")}}
    >>> row = report_row("taxi", report, None, None, "2024-01-02", lambda moment: moment)
    >>> row[1], row[3], row[4].isoformat(), row[7]
    ('taxi', None, '2024-01-02T00:00:00+00:00', '{"drift":{"drifted_share":NaN}}')
    """
    entry = report_entry(model, report_json, html_path, start, end)
    return (
        entry["id"],
        model,
        moment(entry["created_at"]),
        moment(entry["start"]),
        moment(entry["end"]),
        entry["html_path"],
        to_json(headline(report_json), f"headline of the report of model {model!r}"),
        to_json(report_json, f"report of model {model!r}"),
    )


def stored_entry(row: tuple[Any, ...], moment: Callable[[Any], datetime | None]) -> dict[str, Any]:
    """The list entry of a SQL row of :data:`REPORT_COLUMNS`; ``moment`` reads a stored time back.

    >>> from modelmon.store.documents import from_ms
    >>> row = ("r1", "taxi", 0, None, None, None, '{"dataset_drift": false}')
    >>> entry = stored_entry(row, lambda value: None if value is None else from_ms(value))
    >>> entry["created_at"].isoformat(), entry["start"], entry["dataset_drift"]
    ('1970-01-01T00:00:00+00:00', None, False)
    """
    report_id, model, created_at, start, end, html_path, numbers = row[:7]
    return {
        "id": report_id,
        "model": model,
        "created_at": moment(created_at),
        "start": moment(start),
        "end": moment(end),
        "html_path": html_path,
        **json.loads(numbers),
    }


def stored_report(
    rows: list[tuple[Any, ...]], report_id: str, where: str, moment: Callable[[Any], datetime | None]
) -> dict[str, Any]:
    """The entry and JSON of the first SQL row of :data:`REPORT_COLUMNS` plus ``report``.

    :class:`UnknownReportError` naming ``where`` (the store's URL) when there is no row.
    """
    if not rows:
        raise UnknownReportError(f"no report with id {report_id!r} in {where}")
    return {**stored_entry(rows[0], moment), "report": json.loads(rows[0][7])}


class ReportStore(abc.ABC):
    """Batch reports: the JSON and the location of the HTML file."""

    @abc.abstractmethod
    def save_report(
        self,
        model: str,
        report_json: Mapping[str, Any],
        html_path: str | None,
        start: datetime | str | None,
        end: datetime | str | None,
    ) -> str:
        """Store a report; return its id."""

    @abc.abstractmethod
    def list_reports(self, model: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first: ``id, model, created_at, start, end, html_path`` and the :func:`headline` numbers."""

    @abc.abstractmethod
    def get_report(self, report_id: str) -> dict[str, Any]:
        """One list entry plus ``report`` (the JSON); :class:`UnknownReportError` when there is none."""


class MetricStore(abc.ABC):
    """Time series of flat metric names (``drifted_share``, ``drift_score.trip_distance``, ``metric.mae``).

    Retention: at most ``max_points`` points are kept per model and name; appending drops the oldest.
    """

    max_points: int = MAX_METRIC_POINTS

    @abc.abstractmethod
    def append(self, model: str, timestamp: datetime | str, values: Mapping[str, float]) -> None:
        """Record the values of several metrics at one time (NaN is kept and read back as NaN)."""

    @abc.abstractmethod
    def history(
        self,
        model: str,
        names: Iterable[str] | None = None,
        since: datetime | str | None = None,
        limit: int = 1000,
    ) -> dict[str, list[tuple[datetime, float]]]:
        """The latest ``limit`` points per name (all names when ``names`` is None), oldest first."""


@dataclass
class Store:
    """The three stores of one backend, opened by :func:`modelmon.store.open_store`.

    >>> from modelmon.store import open_store
    >>> with open_store("memory://") as store:
    ...     store.events.add_events("m", [{"features": {"x": 1}, "prediction": 0}])
    1
    """

    url: str
    events: EventStore
    reports: ReportStore
    metrics: MetricStore
    closer: Callable[[], None] = lambda: None

    def close(self) -> None:
        """Release connections."""
        self.closer()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
