"""Prometheus with the shipped scrape config reads /metrics of a ``modelmon serve`` that requires a token."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml
from prometheus_harness import SCRAPE_TOKEN, PrometheusServer, write_prometheus_config

from integration_support import free_port, require_binary
from modelmon.demo.stack import wait_for_http

pytestmark = [pytest.mark.integration, pytest.mark.slow]
WRITE_TOKEN = "deploy-write-token-0123456789"


@pytest.fixture(scope="module")
def monitoring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("scrape-auth")
    pd.DataFrame({"x": [float(i % 17) for i in range(200)], "y": [float(i) for i in range(200)]}).to_parquet(
        folder / "reference.parquet"
    )
    model = {"task": "regression", "numerical": ["x"], "prediction": "y", "reference": "reference.parquet"}
    config = {"store": f"sqlite:///{folder / 'store.db'}", "models": {"m": model}}
    (folder / "modelmon.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELMON_")}
    env |= {"MODELMON_TOKEN": WRITE_TOKEN, "MODELMON_READ_TOKEN": SCRAPE_TOKEN}
    command = [sys.executable, "-m", "modelmon", "serve", "--config", str(folder / "modelmon.yml")]
    with (folder / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [*command, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env
        )
    try:
        healthy = wait_for_http(f"http://127.0.0.1:{port}/health", 60, lambda: process.poll() is None)
        assert healthy, (folder / "serve.log").read_text()
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def _scrape(folder: Path, target: str, token: str) -> tuple[list[dict], str]:
    binary = require_binary("prometheus")
    config = write_prometheus_config(folder, {"modelmon-monitoring": [target]}, token=token)
    with PrometheusServer(config, folder / "tsdb", binary=binary) as prometheus:
        deadline = time.monotonic() + 60
        state = {"health": "unknown", "lastError": "never scraped"}
        while time.monotonic() < deadline and state["health"] == "unknown":
            time.sleep(0.5)
            targets = prometheus.api("targets")["data"]["activeTargets"]
            state = targets[0] if targets else state
        # a scrape that succeeded has its samples queryable soon after; a refused one never will
        samples = prometheus.wait_for(
            'modelmon_window_rows{model="m"}', timeout=30 if state["health"] == "up" else 0
        )
        return samples, state["lastError"]


def test_prometheus_scrapes_with_the_read_token_from_its_credentials_file(monitoring, tmp_path):
    samples, error = _scrape(tmp_path, monitoring, SCRAPE_TOKEN)
    assert error == ""
    assert samples and samples[0]["metric"]["job"] == "modelmon-monitoring"


def test_a_wrong_scrape_token_is_refused(monitoring, tmp_path):
    samples, error = _scrape(tmp_path, monitoring, "not-the-read-token-at-all")
    assert samples == []
    assert "401" in error
