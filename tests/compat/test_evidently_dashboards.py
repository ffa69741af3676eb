"""End to end, a course-style Evidently setup on `modelmon serve`, through a real Prometheus.

The old service's config.yaml and reference files without a prediction column are served as they
are (`modelmon serve --config config.yaml`, a real process); a course-style sender posts each
record to `/iterate/<dataset>` as the course's prediction service did; a real Prometheus scrapes
the service; every panel query of the course's five dashboards, with its template variables
resolved as Grafana resolves them, must return data.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from course_style import (
    DASHBOARD_DATASET,
    DASHBOARD_QUERIES,
    DASHBOARD_VARIABLES,
    course_records,
    expand,
    write_setup,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "deploy"))

from prometheus_harness import PrometheusServer, require_tool, write_prometheus_config

from integration_support import free_port
from modelmon.demo.stack import modelmon_command, wait_for_http

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RECORDS = 250  # more than the window of 200


def _post(url: str, records: list[dict]) -> tuple[int, str]:
    body = json.dumps(records).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.status, answer.read().decode()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrometheusServer, str]]:
    binary = require_tool("prometheus", "prometheus")
    folder = tmp_path_factory.mktemp("evidently")
    config = write_setup(folder, window_size=200, period=1)
    port = free_port()
    log = (folder / "serve.log").open("wb")
    process = subprocess.Popen(
        modelmon_command("serve", "--config", str(config), "--port", str(port)),
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_for_http(f"{url}/health", 60, lambda: process.poll() is None):
            raise RuntimeError(f"modelmon serve did not start: {(folder / 'serve.log').read_text()[-2000:]}")
        prometheus_config = write_prometheus_config(folder, {"modelmon-monitoring": [f"127.0.0.1:{port}"]})
        with PrometheusServer(prometheus_config, folder / "tsdb", binary) as prometheus:
            yield prometheus, url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def test_the_course_sender_gets_the_old_answer(stack):
    _, url = stack
    for dataset in ("taxi", "credit"):
        for record in course_records(dataset, RECORDS):
            assert _post(f"{url}/iterate/{dataset}", [record]) == (
                200,
                "ok",
            )  # one record per call, as the course


def _label_values(prometheus: PrometheusServer, label: str, series: str | None) -> list[str]:
    params = {"match[]": series} if series else {}
    return list(prometheus.api(f"label/{label}/values", **params)["data"])


def test_every_course_dashboard_query_returns_data(stack):
    prometheus, _ = stack
    # the last family to appear once both windows were recomputed and scraped
    prometheus.wait_for(
        'evidently:regression_performance:feature_error_bias{metric="current_over"}', timeout=60
    )
    prometheus.wait_for("evidently:classification_performance:class_confusion", timeout=30)
    assert {"taxi", "credit"} <= set(_label_values(prometheus, "dataset_name", None))
    empty = []
    for dashboard, panel, expr in DASHBOARD_QUERIES:
        variables = {"dataset_name": DASHBOARD_DATASET[dashboard]}
        for name, (series, label) in DASHBOARD_VARIABLES.items():
            if name != "dataset_name" and (f"${name}" in expr or f"${{{name}:raw}}" in expr):
                values = _label_values(prometheus, label, series)
                assert values, f"the dashboard variable {name} has no values"
                variables[name] = values[0]
        query = expand(expr, variables)
        if not prometheus.query(query):
            empty.append(f"{dashboard} / {panel}: {query}")
    assert not empty, "panels without data:\n" + "\n".join(empty)


def test_p_values_on_the_live_series_are_p_values(stack):
    prometheus, _ = stack
    samples = prometheus.wait_for('evidently:data_drift:p_value{dataset_name="taxi"}')
    tests = {sample["metric"]["feature"]: sample["metric"]["stat_test"] for sample in samples}
    assert tests == {
        "PULocationID": "chi-square p_value",
        "DOLocationID": "chi-square p_value",
        "trip_distance": "K-S p_value",
        "duration": "K-S p_value",
    }
    assert all(0.0 <= float(sample["value"][1]) <= 1.0 for sample in samples)
