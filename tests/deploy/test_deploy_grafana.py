"""Grafana: generated dashboards in sync, every query filtered by model, parseable and never dividing by 0."""

from __future__ import annotations

import doctest
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_harness import (
    DASHBOARDS,
    DEPLOY,
    DESIGNED_SERIES,
    PrometheusServer,
    dashboard_queries,
    expand,
    load_generator,
    recorded_names,
    selectors,
    series_names,
    unguarded_divisions,
    write_prometheus_config,
)

from integration_support import require_binary

generate = load_generator("grafana")
QUERIES = dashboard_queries()
PROVISIONING = DEPLOY / "grafana" / "provisioning"


def test_checked_in_dashboards_are_the_generators_output() -> None:
    expected = generate.render()
    assert {p.name for p in DASHBOARDS.glob("*.json")} == set(expected)
    for name, text in expected.items():
        assert (DASHBOARDS / name).read_text() == text, f"run python deploy/grafana/generate.py ({name})"


def test_generator_doctests() -> None:
    assert doctest.testmod(generate).failed == 0
    assert doctest.testmod(__import__("grafana_panels")).failed == 0


def test_the_six_dashboards_exist_with_panels() -> None:
    by_board: dict[str, int] = {}
    for query in QUERIES:
        by_board[query.dashboard] = by_board.get(query.dashboard, 0) + 1
    assert set(by_board) == {"modelmon-service-health", "modelmon-performance", "modelmon-data-quality",
                             "modelmon-drift", "modelmon-fairness", "modelmon-outliers"}  # fmt: skip
    assert min(by_board.values()) >= 3


def test_every_dashboard_has_the_model_variable_from_the_events_series() -> None:
    for path in DASHBOARDS.glob("*.json"):
        variables = {v["name"]: v for v in json.loads(path.read_text())["templating"]["list"]}
        assert variables["model"]["definition"] == "label_values(modelmon_events_total, model)", path.name
        assert variables["model"]["includeAll"] and variables["model"]["allValue"] == ".*", path.name


@pytest.mark.parametrize("query", QUERIES, ids=str)
def test_every_series_in_every_query_is_filtered_by_model(query) -> None:
    found = selectors(query.expr)
    assert found, query
    for name, matchers in found:
        assert 'model=~"$model"' in matchers or 'model=~"$model|"' in matchers, (
            f"{name} unfiltered in {query}"
        )


@pytest.mark.parametrize("query", QUERIES, ids=str)
def test_queries_use_designed_or_recorded_series_and_never_divide_by_zero(query) -> None:
    used = set(series_names(query.expr))
    assert used <= DESIGNED_SERIES | recorded_names(), f"unknown series {used - DESIGNED_SERIES} in {query}"
    assert unguarded_divisions(query.expr) == [], query


def test_panels_and_provisioning_use_the_same_datasource_uid() -> None:
    datasources = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())["datasources"]
    uids = {ds["uid"] for ds in datasources}
    for path in DASHBOARDS.glob("*.json"):
        for panel in json.loads(path.read_text())["panels"]:
            assert panel["datasource"]["uid"] in uids, f"{path.name}: {panel['title']}"
            assert {t["datasource"]["uid"] for t in panel["targets"]} <= uids


def test_the_dashboard_provider_reads_the_folder_compose_mounts() -> None:
    provider = yaml.safe_load((PROVISIONING / "dashboards" / "modelmon.yml").read_text())["providers"][0]
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    mounts = dict(v.split(":")[:2] for v in compose["services"]["grafana"]["volumes"])
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """An empty Prometheus with the shipped rules: enough to parse every query."""
    binary = require_binary("prometheus")
    folder: Path = tmp_path_factory.mktemp("prometheus")
    config = write_prometheus_config(folder, {})
    with PrometheusServer(config, folder / "tsdb", binary=binary) as server:
        yield server


@pytest.mark.integration
def test_every_query_parses_for_all_models_and_for_one(prometheus: PrometheusServer) -> None:
    errors = []
    for query in QUERIES:
        for model in (".*", "taxi-duration", "(credit-approval|taxi-duration)"):
            try:
                prometheus.query(expand(query.expr, model))
            except ValueError as error:
                errors.append(f"{query}: {error}")
    assert errors == []


@pytest.mark.integration
def test_a_broken_query_is_reported(prometheus: PrometheusServer) -> None:
    with pytest.raises(ValueError, match="bad_data"):
        prometheus.query("sum by (model) (rate(modelmon_events_total[5m])")
