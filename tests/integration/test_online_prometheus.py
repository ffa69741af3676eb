"""The online path through a real Prometheus: an incident injected into live traffic shows up in PromQL.

The monitoring service and the instrumented demo prediction service run as `modelmon` processes on free
ports, a real Prometheus scrapes both every second, and the simulator sends taxi traffic with a covariate
shift on trip_distance and a missing-value spike on fare_amount, then ground truth a second later.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from service_process import free_port

from integration_support import require_binary
from modelmon.demo.files import TAXI_MODEL_NAME, demo_config, write_demo_files
from modelmon.demo.simulate import Plan, Simulator, parse_incident
from modelmon.demo.stack import find_rules_dir, modelmon_command, prometheus_config, wait_for_http

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SHIFTED, MISSING = "trip_distance", "fare_amount"
WINDOW = 800
TAXI = demo_config()["models"][TAXI_MODEL_NAME]
CONTROLS = [column for column in TAXI["numerical"] + TAXI["categorical"] if column not in (SHIFTED, MISSING)]


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, promql: str) -> list[dict[str, Any]]:
        address = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
        with urllib.request.urlopen(address, timeout=10) as response:
            answer = json.loads(response.read())
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def values(self, promql: str) -> dict[str, float]:
        """Each series' value, keyed by its ``column`` label (or ``le``, or "" when it has neither)."""
        return {
            sample["metric"].get("column", sample["metric"].get("le", "")): float(sample["value"][1])
            for sample in self.query(promql)
        }

    def wait_for(
        self, promql: str, check: Callable[[dict[str, float]], bool], timeout: float
    ) -> dict[str, float]:
        deadline = time.monotonic() + timeout
        while True:
            values = self.values(promql)
            if check(values) or time.monotonic() > deadline:
                return values
            time.sleep(1.0)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, str, str]]:
    prometheus_binary = require_binary("prometheus")
    folder = tmp_path_factory.mktemp("online")
    write_demo_files(folder, rows=5000)
    monitor_port, service_port, prometheus_port = free_port(), free_port(), free_port()
    config = demo_config()
    for model in config["models"].values():
        # 800 rows: with fewer, chance alone takes some control columns near the 0.1 drift threshold
        model |= {"window": {"rows": WINDOW}, "refresh_seconds": 1}
    config["health"] = {"prediction-service": f"http://127.0.0.1:{service_port}/health"}
    (folder / "online.yml").write_text(yaml.safe_dump(config))
    (folder / "prometheus.yml").write_text(
        yaml.safe_dump(prometheus_config(monitor_port, service_port, find_rules_dir(), interval=1))
    )
    monitor_url, service_url = f"http://127.0.0.1:{monitor_port}", f"http://127.0.0.1:{service_port}"
    commands = {
        "monitoring": modelmon_command("serve", "--config", "online.yml", "--port", str(monitor_port)),
        "prediction": modelmon_command(
            "demo-service",
            "--port",
            str(service_port),
            "--monitor-url",
            monitor_url,
            "--data-dir",
            str(folder),
        ),
        "prometheus": [
            prometheus_binary,
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ],
    }
    environment = {**os.environ, "MODELMON_SPOOL_DIR": str(folder / "spool")}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, command in commands.items():
            with (folder / f"{name}.log").open("wb") as log:
                processes[name] = subprocess.Popen(
                    command, cwd=folder, env=environment, stdout=log, stderr=log
                )
        for name, url in [
            ("monitoring", f"{monitor_url}/health"),
            ("prediction", f"{service_url}/health"),
            ("prometheus", f"http://127.0.0.1:{prometheus_port}/-/ready"),
        ]:
            alive = processes[name].poll
            if not wait_for_http(url, 90, lambda alive=alive: alive() is None):
                pytest.fail(f"{name} did not start:\n{(folder / f'{name}.log').read_text()[-3000:]}")
        yield Prometheus(f"http://127.0.0.1:{prometheus_port}"), service_url, monitor_url
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def traffic(stack: tuple[Prometheus, str, str]) -> Prometheus:
    prometheus, service_url, monitor_url = stack
    incidents = (parse_incident(f"covariate_shift:{SHIFTED}"), parse_incident(f"missing_spike:{MISSING}"))
    # every request of the plan is sent, however slowly a busy machine answers (up to 5 minutes)
    plan = Plan(
        models=("taxi",),
        rate=60,
        duration=22,
        incidents=incidents,
        incident_at=3,
        target_delay=1,
        deadline=300,
    )
    stats = Simulator(plan, service_url, monitor_url, echo=lambda line: print(line, file=sys.stderr)).run()
    assert stats.errors == 0, stats
    assert stats.ok == plan.requests >= WINDOW, f"the prediction service left requests unanswered: {stats}"
    assert stats.targets_sent == stats.ok
    return prometheus


def test_drift_shows_on_the_shifted_column_and_not_on_the_controls(traffic: Prometheus) -> None:
    query = f'modelmon_drift_detected{{model="{TAXI_MODEL_NAME}"}}'
    detected = traffic.wait_for(query, lambda values: values.get(SHIFTED) == 1.0, timeout=120)
    assert detected.get(SHIFTED) == 1.0, detected
    assert {column: detected.get(column) for column in CONTROLS} == dict.fromkeys(CONTROLS, 0.0)
    scores = traffic.values(f'modelmon_drift_score{{model="{TAXI_MODEL_NAME}",column="{SHIFTED}"}}')
    assert scores[SHIFTED] > 0.1


def test_the_missing_value_spike_shows_on_its_column_only(traffic: Prometheus) -> None:
    query = f'modelmon_missing_share{{model="{TAXI_MODEL_NAME}"}}'
    shares = traffic.wait_for(query, lambda values: values.get(MISSING, 0) > 0.15, timeout=120)
    assert 0.15 < shares[MISSING] < 0.4, shares
    assert max(shares[column] for column in [*CONTROLS, SHIFTED]) == 0.0


def test_the_prediction_service_exports_request_counts_and_its_latency_histogram(traffic: Prometheus) -> None:
    job = 'job="modelmon-prediction",endpoint="/predict"'
    counts = traffic.wait_for(
        f'sum(modelmon_http_requests_total{{{job},status="200"}})',
        lambda values: values.get("", 0) >= WINDOW,
        timeout=120,
    )
    assert counts[""] >= WINDOW
    buckets = traffic.values(f"modelmon_http_request_duration_seconds_bucket{{{job}}}")
    assert buckets["+Inf"] == counts[""]
    cumulative = [count for _, count in sorted(buckets.items(), key=lambda item: float(item[0]))]
    assert cumulative == sorted(cumulative) and cumulative[0] < cumulative[-1]
    median = traffic.values(
        "histogram_quantile(0.5, sum by (le) "
        f"(rate(modelmon_http_request_duration_seconds_bucket{{{job}}}[1m])))"
    )
    assert 0 < median[""] < 5.0  # seconds, not milliseconds (a millisecond count would top the 10 s bucket)


def test_performance_metrics_appear_once_targets_arrive(traffic: Prometheus) -> None:
    query = f'modelmon_model_metric{{model="{TAXI_MODEL_NAME}",segment="all"}}'
    metrics = traffic.wait_for(query, lambda values: bool(values), timeout=120)
    named = {sample["metric"]["metric"]: float(sample["value"][1]) for sample in traffic.query(query)}
    assert metrics and {"mae", "rmse"} <= set(named), named
    assert 0 < named["mae"] < 60
