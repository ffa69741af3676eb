"""The client's Prometheus collector, its HTTP metrics, and the cost of importing the client."""

from __future__ import annotations

import subprocess
import sys

import pytest
from prometheus_client import CollectorRegistry, generate_latest

import modelmon.client
from modelmon.client import Monitor, MonitorCollector, register_monitor
from modelmon.client.metrics import DURATION_BUCKETS, http_metrics


@pytest.fixture
def down_monitor(tmp_path):
    monitors = []

    def make(model: str) -> Monitor:
        # Port 9 refuses connections and a long flush interval keeps events in the queue until close().
        monitor = Monitor(
            "http://127.0.0.1:9", model, flush_interval=30, spool_path=tmp_path / f"{model}.jsonl"
        )
        monitors.append(monitor)
        return monitor

    yield make
    for monitor in monitors:
        monitor.close(timeout=2.0)


def test_collector_reads_counters_at_scrape_time(down_monitor):
    registry = CollectorRegistry()
    taxi, churn = down_monitor("taxi"), down_monitor("churn")
    register_monitor(taxi, registry)
    register_monitor(churn, registry)
    register_monitor(taxi, registry)  # again: still one series per model

    def sample(name: str, model: str) -> float | None:
        return registry.get_sample_value(name, {"model": model})

    assert sample("modelmon_client_queue_depth", "taxi") == 0.0
    for i in range(3):
        taxi.log({"x": i}, i)
    assert sample("modelmon_client_queue_depth", "taxi") == 3.0
    assert sample("modelmon_client_queue_depth", "churn") == 0.0

    assert taxi.close(timeout=30.0)
    taxi.log({"x": 4}, 4)  # closed: dropped
    assert sample("modelmon_client_queue_depth", "taxi") == 0.0
    assert sample("modelmon_client_spooled_events", "taxi") == 3.0
    assert sample("modelmon_client_dropped_events_total", "taxi") == 1.0
    text = generate_latest(registry).decode()
    assert text.count('modelmon_client_queue_depth{model="taxi"}') == 1
    assert "# TYPE modelmon_client_dropped_events_total counter" in text


def test_a_second_collector_with_the_same_names_is_refused():
    registry = CollectorRegistry()
    registry.register(MonitorCollector())
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        registry.register(MonitorCollector())


def test_http_metrics_are_made_once_per_registry():
    registry = CollectorRegistry()
    metrics = http_metrics(registry)
    assert http_metrics(registry) is metrics
    metrics.record("/predict", 200, 0.003)
    assert (
        registry.get_sample_value("modelmon_http_requests_total", {"endpoint": "/predict", "status": "200"})
        == 1
    )
    bucket = {"endpoint": "/predict", "le": "0.005"}
    assert registry.get_sample_value("modelmon_http_request_duration_seconds_bucket", bucket) == 1
    assert DURATION_BUCKETS[0] == 0.001 and DURATION_BUCKETS[-1] == 10.0


def test_public_surface():
    assert sorted(modelmon.client.__all__) == [
        "Monitor",
        "MonitorCollector",
        "MonitorMiddleware",
        "current_latency_ms",
        "default_spool_path",
        "instrument_flask",
        "register_monitor",
    ]


def test_importing_the_client_loads_no_heavy_module():
    heavy = [
        "numpy",
        "pandas",
        "scipy",
        "sklearn",
        "prometheus_client",
        "flask",
        "starlette",
        "modelmon.engine",
    ]
    code = f"import sys, modelmon.client; print([m for m in {heavy!r} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
