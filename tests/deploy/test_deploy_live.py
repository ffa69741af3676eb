"""The real services in an incident, scraped by Prometheus with the shipped config and rules.

``modelmon serve`` and ``modelmon demo-service`` run on loopback with the demo data. The second half of
the demo's current files (taxi: longer trips, 30% of ``fare_amount`` missing; credit: bias against one
gender, a concept change) goes to the monitoring service as events, and ``modelmon simulate`` sends
traffic with missing values through the prediction service. Then every Grafana panel's query must
return data, and the matching alerts must fire (the rules' ``for:`` is shortened to 0s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from prometheus_harness import PrometheusServer, dashboard_queries, expand, free_port, write_prometheus_config

from integration_support import require_binary
from modelmon.demo.stack import wait_for_http

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROWS = 2000
MODELMON = str(Path(sys.executable).parent / "modelmon")


def _events(frame: pd.DataFrame, schema: dict[str, Any]) -> list[dict[str, Any]]:
    features = [*schema["numerical"], *schema["categorical"], *schema.get("sensitive", [])]
    events = []
    for row in frame.to_dict("records"):
        event = {
            "id": str(row[schema["id"]]),
            "timestamp": pd.Timestamp(row[schema["timestamp"]]).isoformat(),
            "features": {name: None if pd.isna(row[name]) else row[name] for name in features},
            "prediction": row[schema["prediction"]],
            "target": row[schema["target"]],
            "latency_ms": 12.5,
        }
        if schema.get("probabilities"):
            event["probabilities"] = row[schema["probabilities"][0]]
        events.append(event)
    return events


def _post(url: str, body: Any) -> dict[str, Any]:
    data = json.dumps(body, default=str).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


@contextmanager
def _running(
    command: list[str], log: Path, health_url: str, env: dict[str, str] | None = None
) -> Iterator[None]:
    """Run ``command`` until the block ends, once ``health_url`` answers; its output goes to ``log``."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    try:
        if not wait_for_http(health_url, 90, lambda: process.poll() is None):
            raise RuntimeError(f"{command[1]} did not become healthy: {log.read_text()[-3000:]}")
        yield
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    binary = require_binary("prometheus")
    from modelmon.demo.files import write_demo_files

    folder: Path = tmp_path_factory.mktemp("live")
    data = folder / "data"
    config_path = write_demo_files(data, rows=ROWS)
    config = yaml.safe_load(config_path.read_text())
    monitor_port, service_port = free_port(), free_port()
    monitor, service = f"http://127.0.0.1:{monitor_port}", f"http://127.0.0.1:{service_port}"
    config["store"] = f"sqlite:///{folder / 'modelmon.db'}"
    config["health"] = {"prediction-service": f"{service}/health"}
    config_path.write_text(yaml.safe_dump(config))
    with ExitStack() as stack:
        serve = [MODELMON, "serve", "--config", str(config_path), "--port", str(monitor_port)]
        stack.enter_context(_running(serve, folder / "serve.log", f"{monitor}/health"))
        for model, prefix in (("taxi-duration", "taxi"), ("credit-approval", "credit")):
            current = pd.read_parquet(data / f"{prefix}_current.parquet").iloc[ROWS // 2 :]
            events = _events(current, config["models"][model])
            for start in range(0, len(events), 250):
                answer = _post(f"{monitor}/v1/models/{model}/events", {"events": events[start : start + 250]})
                assert answer["rejected"] == [], answer["rejected"][:3]
        predict = [MODELMON, "demo-service", "--port", str(service_port), "--monitor-url", monitor]
        spool = {"MODELMON_SPOOL_DIR": str(folder / "spool")}
        stack.enter_context(
            _running([*predict, "--data-dir", str(data)], folder / "service.log", f"{service}/health", spool)
        )
        targets = {
            "modelmon-monitoring": [f"127.0.0.1:{monitor_port}"],
            "modelmon-prediction": [f"127.0.0.1:{service_port}"],
        }
        server = stack.enter_context(
            PrometheusServer(write_prometheus_config(folder, targets), folder / "tsdb", binary=binary)
        )
        # Traffic while Prometheus scrapes, so rates are not zero.
        simulate = [MODELMON, "simulate", "--service-url", service, "--monitor-url", monitor]
        simulate += ["--rate", "50", "--duration", "6", "--deadline", "90"]  # every request, however busy
        simulate += ["--incident", "missing_spike", "--incident-at", "0"]
        simulate += ["--target-delay", "1"]
        traffic = subprocess.run(simulate, capture_output=True, text=True, timeout=120, check=False)
        assert traffic.returncode == 0, traffic.stdout + traffic.stderr
        # Rates need two scrapes of the prediction service; the window results, one recompute.
        for ready in ("modelmon:http_requests:rate5m", 'modelmon_missing_share{model="taxi-duration"}'):
            assert server.wait_for(ready, timeout=30), f"no {ready}: {server.log()}"
        # SHAP attributions from the config's model file are computed in the background (seconds to a
        # minute on a busy machine, most of it shap compiling its helpers once per process)
        attribution = 'modelmon_feature_attribution{model="taxi-duration"}'
        log = folder / "serve.log"
        assert server.wait_for(attribution, timeout=240), f"no {attribution}: {log.read_text()[-3000:]}"
        yield server


@pytest.mark.parametrize("query", dashboard_queries(), ids=str)
def test_every_panel_query_returns_data(prometheus: PrometheusServer, query) -> None:
    assert prometheus.wait_for(expand(query.expr), timeout=30), query


def test_the_incident_fires_its_alerts(prometheus: PrometheusServer) -> None:
    expected = {("ModelmonMissingValues", "taxi-duration"), ("ModelmonFeatureDrift", "taxi-duration")}
    deadline = time.monotonic() + 90
    firing: set[tuple[str, str]] = set()
    while not expected <= firing and time.monotonic() < deadline:
        time.sleep(0.5)
        alerts = prometheus.api("alerts")["data"]["alerts"]
        firing = {
            (a["labels"]["alertname"], a["labels"].get("model", "")) for a in alerts if a["state"] == "firing"
        }
    assert expected <= firing, firing
