"""Shipped Prometheus config and rules, scraping stand-ins of the services in an incident.

Every Grafana panel query must return data and every alert must fire (with ``for:`` shortened), for the
right model only. The stand-ins export the contract's series (see synthetic_services.py); the same
harness points at the real services in the services' own end-to-end test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_harness import (
    PrometheusServer,
    dashboard_queries,
    expand,
    free_port,
    iter_rule_exprs,
    write_prometheus_config,
)
from synthetic_services import CREDIT, TAXI, MetricsServer, monitoring_metrics, prediction_metrics

from integration_support import require_binary

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ALERTS = {name for name, _ in iter_rule_exprs() if ":" not in name}


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    binary = require_binary("prometheus")
    folder: Path = tmp_path_factory.mktemp("e2e")
    with MetricsServer(monitoring_metrics) as monitoring, MetricsServer(prediction_metrics) as prediction:
        dead = f"127.0.0.1:{free_port()}"  # a prediction replica that is down
        targets = {
            "modelmon-monitoring": [monitoring.address],
            "modelmon-prediction": [prediction.address, dead],
        }
        config = write_prometheus_config(folder, targets)
        with PrometheusServer(config, folder / "tsdb", binary=binary) as server:
            deadline = time.monotonic() + 40
            while server.firing_alerts() != ALERTS and time.monotonic() < deadline:
                time.sleep(0.5)
            yield server


def test_every_alert_fires_during_the_incident(prometheus: PrometheusServer) -> None:
    assert prometheus.firing_alerts() == ALERTS, prometheus.log()


def test_alerts_fire_for_the_model_in_trouble_only(prometheus: PrometheusServer) -> None:
    by_alert: dict[str, set[str]] = {}
    for alert in prometheus.api("alerts")["data"]["alerts"]:
        by_alert.setdefault(alert["labels"]["alertname"], set()).add(alert["labels"].get("model", ""))
    only_taxi = [
        "ModelmonDatasetDrift",
        "ModelmonFeatureDrift",
        "ModelmonMissingValues",
        "ModelmonConceptDrift",
        "ModelmonOutlierShareHigh",
        "ModelmonPredictionLatencyHigh",
        "ModelmonErrorWorseThanReference",
    ]
    for name in only_taxi:
        assert by_alert[name] == {TAXI}, name
    assert by_alert["ModelmonFairnessGap"] == {CREDIT}
    assert by_alert["ModelmonScoreWorseThanReference"] == {TAXI, CREDIT}  # r2 and accuracy dropped


@pytest.mark.parametrize("query", dashboard_queries(), ids=str)
def test_every_panel_query_returns_data(prometheus: PrometheusServer, query) -> None:
    assert prometheus.wait_for(expand(query.expr), timeout=10), query


def test_the_model_variable_narrows_panels_to_one_model(prometheus: PrometheusServer) -> None:
    samples = prometheus.query(expand('modelmon_missing_share{model=~"$model"}', TAXI))
    assert {s["metric"]["model"] for s in samples} == {TAXI}
    # Service series without a model label still show under any model.
    assert prometheus.query(expand('modelmon_client_queue_depth{model=~"$model|"}', TAXI))
