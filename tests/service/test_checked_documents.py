"""The store writer converts the documents ingest checked without checking them again; every other
document, the journal's records read back among them, is still checked and fails closed."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from modelmon.errors import EventError
from modelmon.schema import Schema
from modelmon.service.events import check_events
from modelmon.service.journal import entry_line
from modelmon.service.journal_records import read_segment
from modelmon.store import open_store
from modelmon.store.documents import CheckedEvent, event_document

SCHEMA = Schema(numerical=["x"], categorical=["city"], prediction="p", target="y", id="id")
RECEIVED = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)

EVENTS = [
    {"features": {"x": 1.5, "city": "a"}, "prediction": 2.0},
    {"id": 7, "timestamp": "2026-03-01T13:59:59.999999+02:00", "features": {"x": None}, "prediction": "yes"},
    {"id": "e", "timestamp": 1772366400.25, "features": {"x": np.float64(0.5)}, "prediction": np.float64(3)},
    {"features": {"city": "Zürich"}, "prediction": 1, "target": 0, "latency_ms": 12},
    {"features": {}, "prediction": None, "probabilities": {"0": 0.25, "1": 0.75}, "attributions": {"x": 2}},
    {"features": {"x": 2**62}, "prediction": 0.5, "probabilities": 0.5, "metadata": {"a": [1, {"b": None}]}},
    {"features": {"x": -0.0, "city": 5}, "prediction": True, "timestamp": "2026-03-01T11:00:00"},
    {"features": {"x": 1.0}, "prediction": 1.0, "timestamp": "2026-03-01T09:00:00.5-02:00", "target": True},
]  # fmt: skip


def _checked() -> list[CheckedEvent]:
    batch = check_events(EVENTS, SCHEMA, RECEIVED)
    assert not batch.rejected and len(batch.documents) == len(EVENTS)
    return batch.documents


def test_ingest_hands_the_store_checked_events_converted_as_the_checks_would() -> None:
    now = datetime(2026, 3, 1, 12, 0, 1, tzinfo=UTC)
    for index, document in enumerate(_checked()):
        assert type(document) is CheckedEvent
        fast = event_document("m", document, index, now)
        checked = event_document("m", dict(document), index, now)
        assert fast == checked
        assert [type(value) for value in fast.values()] == [type(value) for value in checked.values()]
    assert fast["received_at"] == datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_checked_and_plain_documents_are_stored_alike(backend: str, tmp_path) -> None:
    documents, frames = _checked(), []
    for name, convert in (("fast", lambda d: d), ("checked", dict)):
        url = "memory://" if backend == "memory" else f"sqlite:///{tmp_path / name}.db"
        store = open_store(url)
        try:
            assert store.events.add_events("m", [convert(d) for d in documents]) == len(EVENTS)
            frames.append(next(store.events.read_frames("m")).drop(columns=["received_at"], errors="ignore"))
        finally:
            store.close()
    fast, checked = frames
    assert fast.columns.tolist() == checked.columns.tolist()
    assert fast.astype(str).to_dict("list") == checked.astype(str).to_dict("list")


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"timestamp": "yesterday"}, "event 0 timestamp 'yesterday' is not an ISO 8601"),
        ({"features": [1, 2]}, "event 0: 'features' must be an object"),
        ({"colour": "red"}, r"event 0: unknown fields \['colour'\]"),
        ({"features": {"target": 1}}, "reserved column names"),
        ({"probabilities": "high"}, "'probabilities' must be a number"),
    ],
)
def test_a_bad_document_from_the_journal_still_fails_closed(change: dict, error: str, tmp_path) -> None:
    (record,) = read_segment(entry_line("events", "m", _checked()[:1])).entries
    (item,) = record["items"]
    assert type(item) is dict  # read back from disk: not a checked event
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        assert store.events.add_events("m", [item]) == 1  # as journaled, it passes the checks
        with pytest.raises(EventError, match=error):
            store.events.add_events("m", [{**item, **change, "id": "other"}])
        with pytest.raises(EventError, match=error):
            event_document("m", {**_checked()[0], **change}, 0, RECEIVED)  # a plain copy: checked
        assert len(next(store.events.read_frames("m"))) == 1  # nothing of the bad batch was stored
    finally:
        store.close()
