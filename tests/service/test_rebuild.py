"""A window is rebuilt from the store a chunk at a time, within its deadline, each event once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from test_service_api import _config, _events, _reference

from modelmon.service.model_monitor import ModelMonitor
from modelmon.service.rebuild import rebuild_batches
from modelmon.store import open_store


def _stored(tmp_path, count: int):
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    start = datetime.now(UTC) - timedelta(seconds=count)
    documents = [
        {**event, "timestamp": start + timedelta(seconds=i), "received_at": start + timedelta(seconds=i)}
        for i, event in enumerate(_events(count))
    ]
    store.events.add_events("m", documents)
    return store, documents


def test_the_store_is_read_a_chunk_at_a_time_and_the_deadline_stops_the_reading(tmp_path):
    store, documents = _stored(tmp_path, 2500)
    window = _config(window={"rows": 5000}).models["m"]
    try:
        args = ("m", window.window, window.schema, documents[-10:], {"7"})
        chunks = list(rebuild_batches(store.events, *args, time.monotonic() + 60, chunk_rows=1000))
        assert [len(chunk) for chunk in chunks] == [999, 1000, 500, 10]  # id 7 was accepted since
        late = list(rebuild_batches(store.events, *args, time.monotonic() - 1, chunk_rows=1000))
        assert [len(chunk) for chunk in late] == [999, 10]  # past its deadline: one chunk, the journal's
    finally:
        store.close()


def test_a_rebuilt_window_holds_each_stored_or_journaled_event_once(tmp_path):
    store, documents = _stored(tmp_path, 2500)
    monitor = ModelMonitor(_config(window={"rows": 5000}).models["m"], reference=_reference())
    recovered = [*documents[-100:], *[{**event, "model": "m"} for event in _events(50, start=2500)]]
    try:
        monitor.begin_warming()
        assert monitor.rebuild(store.events, recovered, time.monotonic() + 60) == 2550
        assert monitor.recompute(now=0.0)["current_rows"] == 2550
    finally:
        store.close()
