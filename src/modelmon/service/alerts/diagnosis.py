"""The diagnostic report of an alert: one model's stored events of the alert's period, compared with
the reference the service already holds, written as JSON and HTML and kept in the report store.

The period runs from the alert's start minus the model's window (for a window of N rows: back to
the N-th event before the start, or ``alerts.lookback_seconds`` when the store cannot say) to the
time the report is built, so it shows what the window showed when the alert fired and what came
after. Events stream from the store chunk by chunk, as in the batch flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from modelmon.store import Store

__all__ = ["Diagnosis", "diagnose", "period_start"]

#: rows per frame read from the store
CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class Diagnosis:
    """A stored diagnostic report: its id, period, rows, HTML file and JSON."""

    report_id: str
    since: datetime
    until: datetime
    rows: int
    html_path: Path
    report: dict[str, Any]


def period_start(store: Store, monitor: Any, starts_at: datetime, lookback_seconds: float) -> datetime | None:
    """The start of an alert's period: its start minus the model's window (``None``: from the first event,
    when fewer events than a window of rows came before the alert)."""
    window = monitor.config.window
    if window.seconds is not None:
        return starts_at - timedelta(seconds=window.seconds)
    rows, span = window.rows, timedelta(seconds=1)
    fallback = starts_at - timedelta(seconds=lookback_seconds)
    if store.events.count(monitor.name, None, starts_at) <= rows:
        return None
    while span < timedelta(days=366):  # widen back from the start until the span holds the window's rows
        if store.events.count(monitor.name, starts_at - span, starts_at) >= rows:
            return starts_at - span
        span *= 2
    return fallback


def diagnose(
    store: Store,
    monitor: Any,
    since: datetime | None,
    until: datetime,
    reports_dir: Path,
    name: str,
    extra: dict[str, Any],
) -> Diagnosis | None:
    """Build, write and store the report of ``monitor``'s events in ``[since, until)`` (``since=None``:
    from the first event); ``None`` when the period has no events. ``extra`` (the alert, the
    findings) is added to the report's JSON."""
    from modelmon.engine.sides import CurrentSide, ReferenceSide
    from modelmon.flows.frames import store_frame_to_schema
    from modelmon.render.html import write_html
    from modelmon.render.json import to_jsonable, write_json
    from modelmon.service.alerts.findings import findings

    schema = monitor.schema
    reference = ReferenceSide(monitor.spec, monitor.reference, monitor.reference_sample)
    current = CurrentSide(reference)
    first: datetime | None = since
    for frame in store.events.read_frames(monitor.name, since, until, chunk_rows=CHUNK_ROWS):
        if first is None and len(frame):
            first = frame["timestamp"].min().to_pydatetime()
        current.update(store_frame_to_schema(frame, schema))
    if current.rows == 0 or first is None:
        return None
    since = first
    report = current.report(drift=monitor.config.drift, model=monitor.model)
    data = to_jsonable(
        {**report.to_dict(), "model": monitor.name, "period": {"start": since, "end": until}, **extra}
    )
    data["diagnosis"] = findings(data)
    folder = reports_dir / monitor.name / "alerts"
    html_path = write_html(folder / f"{name}.html", data)
    write_json(folder / f"{name}.json", data)
    report_id = store.reports.save_report(monitor.name, data, str(html_path.resolve()), since, until)
    return Diagnosis(report_id, since, until, current.rows, html_path, data)
