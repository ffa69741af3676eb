"""What unlabelled events keep for a late target is capped per model (``max_awaiting_target``).

Beyond the cap the oldest records are forgotten, counted in ``/health`` and
``modelmon_awaiting_target_forgotten_total``; a target that comes for a forgotten event counts
as unmatched, as one for an event that left the window, and the event itself stays in the window.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient
from test_service_api import _config, _events, _reference

from modelmon.service.app import create_app
from modelmon.service.runtime import MonitoringService
from modelmon.store import open_store


def test_beyond_the_cap_the_oldest_waiting_records_are_forgotten_counted_and_their_targets_unmatched():
    config = _config(window={"seconds": 86400}, max_awaiting_target=300)
    service = MonitoringService(config, store=open_store("memory://"), references={"m": _reference()})
    client = TestClient(create_app(service, CollectorRegistry()))
    try:
        for start in range(0, 1000, 250):
            answer = client.post("/v1/models/m/events", json={"events": _events(250, start=start)})
            assert answer.json()["accepted"] == 250
            service.recompute("m")
        health = client.get("/health").json()
        assert health["awaiting_target"]["m"] == {"events": 300, "max": 300, "forgotten": 700}
        metrics = client.get("/metrics").text
        assert 'modelmon_awaiting_target{model="m"} 300.0' in metrics
        assert 'modelmon_awaiting_target_forgotten_total{model="m"} 700.0' in metrics

        targets = [{"id": str(i), "target": 1.0} for i in (0, 699, 700, 999)]
        assert client.post("/v1/models/m/targets", json={"targets": targets}).status_code == 200
        for _ in range(4):  # a target waits a few recomputes for its event before it is unmatched
            result = service.recompute("m")
        monitor = service.monitors["m"]
        assert monitor.counters.targets_joined == 2 and monitor.counters.targets_unmatched == 2
        assert result["current_rows"] == 1000 and result["labelled_rows"] == 2
    finally:
        service.close()


def test_the_cap_has_a_stated_default_and_can_be_set():
    assert _config().models["m"].max_awaiting_target == 100_000
    assert _config(max_awaiting_target=0).models["m"].max_awaiting_target == 0
