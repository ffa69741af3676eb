"""A resend is counted and windowed once within the model's resend horizon (``dedup_ids``).

The store keeps every id once whatever its age; online, a resend is known by the latest
``dedup_ids`` ids (by default 200,000, or twice a larger window by rows). The first tests hold the
promise and its stated limit on one model's monitor; the last holds it against a real ``modelmon
serve`` with concurrent clients that resend batches far older than the window, comparing
``modelmon_events_total`` with the rows in the store.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request

import pytest
import yaml
from test_service_api import _config, _events, _reference

from integration_support import free_port, serve_until_healthy, stop_process
from modelmon.service.model_monitor import ModelMonitor
from modelmon.store import open_store


def _monitor(**model) -> ModelMonitor:
    return ModelMonitor(_config(**model).models["m"], reference=_reference())


def test_a_resend_older_than_twice_the_window_is_counted_once():
    monitor = _monitor(window={"rows": 500})
    events = _events(5000)
    for start in range(0, 5000, 500):
        monitor.ingest(events[start : start + 500])
    monitor.recompute(now=0.0)
    monitor.ingest(events[:1000])  # 4,000 events after them: eight windows back
    result = monitor.recompute(now=1.0)
    assert monitor.counters.events == 5000 and monitor.counters.duplicates == 1000
    assert result["current_rows"] == 500
    assert monitor.config.resend_horizon == 200_000


def test_beyond_the_configured_horizon_a_resend_counts_again_online():
    # the stated limit: the store keeps the id once, the window and events_total count it again
    monitor = _monitor(window={"rows": 500}, dedup_ids=100)
    events = _events(600)
    monitor.ingest(events)
    monitor.ingest(events[550:])  # among the latest 100 ids: known
    monitor.ingest(events[:100])  # 500 ids back: counted again
    assert monitor.counters.events == 700 and monitor.counters.duplicates == 50


#: the batches after which a client resends the batch it sent ten batches before
RESEND_AT = (14, 19, 24)


def _metric(base: str, name: str) -> float:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    found = re.search(rf'^{name}{{model="m"}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


@pytest.mark.slow
def test_concurrent_clients_resending_batches_far_older_than_the_window_are_counted_as_stored(tmp_path):
    _reference().to_parquet(tmp_path / "reference.parquet")
    model = {
        "task": "regression",
        "reference": "reference.parquet",
        "numerical": ["x", "z"],
        "categorical": ["c"],
        "prediction": "y",
        "id": "rid",
        "window": {"rows": 100},
        "refresh_seconds": 1,
    }
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    config = tmp_path / "modelmon.yml"
    config.write_text(yaml.safe_dump({"store": store_url, "models": {"m": model}}))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    clients, batches, size = 8, 25, 40
    failures: list[str] = []

    def client(number: int) -> None:
        sent: list[list[dict]] = []
        for batch in range(batches):
            sent.append(_events(size, seed=number, start=(number * batches + batch) * size))
            # now and then, the batch of ten before is sent again (an old spool replayed)
            chosen = [sent[-1], sent[-11]] if batch in RESEND_AT else [sent[-1]]
            for events in chosen:
                data = json.dumps({"events": events}).encode()
                request = urllib.request.Request(
                    f"{base}/v1/models/m/events", data=data, headers={"Content-Type": "application/json"}
                )
                with urllib.request.urlopen(request, timeout=60) as answer:
                    if answer.status != 200:
                        failures.append(f"client {number}: {answer.status}")

    service = serve_until_healthy(config, port)
    try:
        threads = [threading.Thread(target=client, args=(number,)) for number in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not failures
        unique = clients * batches * size
        with open_store(store_url) as store:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and store.events.count("m") < unique:
                time.sleep(0.2)
            assert store.events.count("m") == unique
        resent = clients * len(RESEND_AT) * size
        assert _metric(base, "modelmon_events_total") == unique
        assert _metric(base, "modelmon_events_duplicate_total") == resent
    finally:
        stop_process(service)
