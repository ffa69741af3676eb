"""An alert's opt-in action on a real Prefect server: one flow run of the model's deployment, with the
alert's period and report, and none more within the cool-down."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prefect_harness import PrefectServer
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from modelmon.config import parse_config
from modelmon.service.app import create_app
from modelmon.service.runtime import MonitoringService
from modelmon.store import open_store

sys.path.insert(0, str(Path(__file__).parents[1] / "service"))
from alert_support import alert_body, events, model_spec, reference

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _api(url: str, body: Any = None) -> Any:
    """Prefect's answer; a 503 (its database busy, nothing written) is asked again within 60 s."""
    data = None if body is None else json.dumps(body).encode()
    deadline = time.monotonic() + 60
    while True:
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            if exc.code != 503 or time.monotonic() > deadline:
                raise
        time.sleep(0.2)  # the poll interval of a bounded retry


@pytest.fixture
def prefect_api(prefect_server: PrefectServer) -> str:
    return prefect_server.api_url


def test_a_confirmed_alert_starts_one_run_of_the_deployment_within_the_cool_down(prefect_api, tmp_path):
    flow = _api(f"{prefect_api}/flows/", {"name": "retrain"})
    deployment = _api(f"{prefect_api}/deployments/", {"name": "on-alert", "flow_id": flow["id"]})
    config = parse_config(
        {
            "models": {"m": model_spec()},
            "reports_dir": str(tmp_path / "reports"),
            "alerts": {
                "prefect_api_url": prefect_api,
                "actions": {"m": {"deployment": "retrain/on-alert", "cooldown_seconds": 3600}},
            },
        },
        base=tmp_path,
        environ={},
    )
    service = MonitoringService(config, store=open_store("memory://"), references={"m": reference()})
    try:
        client = TestClient(create_app(service, CollectorRegistry()))
        service.ingest("m", events(1000, shift_x=2.0))
        deadline = time.monotonic() + 30
        while service.store.events.count("m") < 1000:
            assert time.monotonic() < deadline, "the events never reached the store"
            time.sleep(0.05)
        for fingerprint, name in (("first", "ModelmonDatasetDrift"), ("second", "ModelmonFeatureDrift")):
            assert (
                client.post("/v1/alerts", json=alert_body(fingerprint=fingerprint, name=name)).status_code
                == 200
            )
            assert service.alerts.wait_idle(120)
        first, second = sorted(service.alerts.recent(), key=lambda entry: entry["first_seen"])
        assert first["action"]["state"] == "started", first["action"]
        assert second["action"]["state"] == "cooldown" and "cool-down 3600 s" in second["action"]["error"]
        runs = _api(
            f"{prefect_api}/flow_runs/filter", {"flow_runs": {"deployment_id": {"any_": [deployment["id"]]}}}
        )
        assert len(runs) == 1
        report = first["report"]
        assert runs[0]["id"] == first["action"]["flow_run_id"]
        assert runs[0]["parameters"] == {
            "model": "m", "since": report["since"], "until": report["until"], "report_id": report["id"]
        }  # fmt: skip
        metrics = client.get("/metrics").text
        assert 'modelmon_alert_actions_total{model="m",outcome="started"} 1.0' in metrics
        assert 'modelmon_alert_actions_total{model="m",outcome="cooldown"} 1.0' in metrics
    finally:
        service.close()
