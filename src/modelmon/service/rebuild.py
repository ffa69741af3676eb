"""Refilling a window after a restart from the store's newest events (and the journal's last batches).

The store's frames are turned back into events, so they take the same path as live ones
(:func:`~modelmon.service.events.check_events`); their late targets come joined, so the labelled
rows refill the performance parts and the concept detectors too.

>>> import pandas as pd
>>> from modelmon.schema import Schema
>>> frame = pd.DataFrame({"id": ["a"], "timestamp": pd.to_datetime(["2024-01-01"], utc=True),
...                       "x": [1.5], "prediction": [2.0], "target": [None]})
>>> frame_events(frame, Schema(numerical=["x"], prediction="y"))
[{'id': 'a', 'timestamp': 1704067200.0, 'features': {'x': 1.5}, 'prediction': 2.0, 'target': None}]
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from modelmon.config import Window
from modelmon.schema import Schema
from modelmon.store.base import EventStore

__all__ = ["MAX_REBUILD_ROWS", "frame_events", "rebuild_batches"]

log = logging.getLogger("modelmon.service")

#: at most this many of the newest rows refill a window (a window by seconds may hold more)
MAX_REBUILD_ROWS = 1_000_000


def frame_events(frame: pd.DataFrame, schema: Schema) -> list[dict[str, Any]]:
    """The events of a store frame (:meth:`EventStore.read_frames` columns), features of the schema only."""
    names = [n for n in dict.fromkeys((*schema.features, *schema.segments, *schema.sensitive)) if n in frame]
    probabilities = [c for c in frame.columns if str(c).startswith("proba_")]
    attributions = [c for c in frame.columns if str(c).startswith("attr_")]
    plain = frame.astype(object).where(frame.notna(), None)
    events = []
    for record in plain.to_dict("records"):
        event: dict[str, Any] = {
            "id": record["id"],
            "timestamp": record["timestamp"].timestamp(),
            "features": {name: record[name] for name in names},
            "prediction": record.get("prediction"),
            "target": record.get("target"),
        }
        if record.get("latency_ms") is not None:
            event["latency_ms"] = record["latency_ms"]
        if record.get("probability") is not None:
            event["probabilities"] = record["probability"]
        elif probabilities:
            event["probabilities"] = {c: record[c] for c in probabilities if record[c] is not None}
        if attributions:
            found = {c.removeprefix("attr_"): record[c] for c in attributions if record[c] is not None}
            if found:
                event["attributions"] = found
        events.append(event)
    return events


def _journal_event(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key not in ("received_at", "model")}


def rebuild_batches(
    store: EventStore,
    model: str,
    window: Window,
    schema: Schema,
    recovered: Iterable[dict[str, Any]],
    skip_ids: set[str],
    deadline: float,
    chunk_rows: int = 50_000,
) -> Iterator[list[dict[str, Any]]]:
    """The events that refill ``model``'s window, oldest first, a store chunk at a time (so memory
    holds one chunk, whatever the window), then the journal's; without ``skip_ids`` (accepted since).

    The journal's events may repeat stored ones: the window's caller knows them by id."""
    if window.rows is not None:
        frames = store.recent_frames(model, rows=min(window.rows, MAX_REBUILD_ROWS), chunk_rows=chunk_rows)
    else:
        assert window.seconds is not None
        since = datetime.now(UTC) - timedelta(seconds=window.seconds)
        frames = store.recent_frames(model, since=since, chunk_rows=chunk_rows)
    read = 0
    for frame in frames:
        events = [event for event in frame_events(frame, schema) if str(event["id"]) not in skip_ids]
        read += len(frame)
        yield events
        if read >= MAX_REBUILD_ROWS or time.monotonic() > deadline:
            log.warning("window of %s: rebuilt from its first %d stored rows only", model, read)
            break
    yield [_journal_event(doc) for doc in recovered if str(doc.get("id")) not in skip_ids]
