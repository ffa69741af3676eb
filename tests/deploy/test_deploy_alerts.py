"""From a covariate shift to a diagnosis, with the real parts: ``modelmon serve`` with events whose
``x`` moved, Prometheus scraping it with the shipped rules (``for:`` shortened to 0s), and a real
Alertmanager with the shipped config sending to the service's webhook with the write token."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_harness import PrometheusServer, write_prometheus_config

from integration_support import free_port, require_binary, serve_until_healthy, stop_process
from modelmon.demo.stack import wait_for_http

sys.path.insert(0, str(Path(__file__).parents[1] / "service"))
from alert_support import READ_TOKEN, WRITE_TOKEN, events, http_sink, model_spec, reference

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DEPLOY = Path(__file__).parents[2] / "deploy"


def _call(url: str, body: Any = None, token: str = WRITE_TOKEN) -> Any:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    with urllib.request.urlopen(
        urllib.request.Request(url, data=data, headers=headers), timeout=30
    ) as answer:
        return (
            answer.read() if answer.headers.get_content_type() == "text/html" else json.loads(answer.read())
        )


def _alertmanager_config(folder: Path, webhook: str) -> Path:
    """The shipped config, sending to ``webhook`` with the token file in ``folder``; groups wait 1 s."""
    config = yaml.safe_load((DEPLOY / "alertmanager" / "alertmanager.yml").read_text())
    config["route"]["group_wait"] = "1s"
    (receiver,) = [item for item in config["receivers"] if item["name"] == "modelmon"]
    token = folder / "secrets" / "modelmon-token"
    token.parent.mkdir(parents=True, exist_ok=True)
    token.write_text(WRITE_TOKEN + "\n")
    receiver["webhook_configs"][0]["url"] = webhook
    receiver["webhook_configs"][0]["http_config"]["authorization"]["credentials_file"] = str(token)
    path = folder / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_covariate_shift_fires_the_drift_alert_and_arrives_diagnosed(tmp_path: Path) -> None:
    alertmanager_binary = require_binary("prometheus-alertmanager")
    prometheus_binary = require_binary("prometheus")
    reference().to_parquet(tmp_path / "reference.parquet")
    service_port, alertmanager_port = free_port(), free_port()
    service = f"http://127.0.0.1:{service_port}"
    with http_sink() as sink:
        config = {
            "store": f"sqlite:///{tmp_path / 'modelmon.db'}",
            "reports_dir": str(tmp_path / "reports"),
            "auth_token": WRITE_TOKEN,
            "read_token": READ_TOKEN,
            "models": {"m": model_spec(reference="reference.parquet")},
            "alerts": {"public_url": service, "receivers": [{"name": "ops", "url": f"{sink.url}/ops"}]},
        }
        config_path = tmp_path / "modelmon.yml"
        config_path.write_text(yaml.safe_dump(config))
        serve = serve_until_healthy(config_path, service_port)
        alertmanager = None
        try:
            answer = _call(
                f"{service}/v1/models/m/events", {"events": events(1000, shift_x=2.0, shift_w=0.4)}
            )
            assert answer["accepted"] == 1000
            storage = tmp_path / "alertmanager"
            storage.mkdir()
            alertmanager_config = _alertmanager_config(tmp_path, f"{service}/v1/alerts")
            command = [
                alertmanager_binary,
                f"--config.file={alertmanager_config}",
                f"--storage.path={storage}",
                f"--web.listen-address=127.0.0.1:{alertmanager_port}",
                "--cluster.listen-address=",
            ]
            with (tmp_path / "alertmanager.log").open("wb") as log:
                alertmanager = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            ready = f"http://127.0.0.1:{alertmanager_port}/-/ready"
            assert wait_for_http(ready, 60, lambda: alertmanager.poll() is None), "Alertmanager did not start"
            targets = {"modelmon-monitoring": [f"127.0.0.1:{service_port}"]}
            prometheus_config = write_prometheus_config(tmp_path, targets, token=READ_TOKEN)
            settings = yaml.safe_load(prometheus_config.read_text())
            settings["alerting"] = {
                "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]
            }
            prometheus_config.write_text(yaml.safe_dump(settings))
            with PrometheusServer(prometheus_config, tmp_path / "tsdb", binary=prometheus_binary):
                deadline = time.monotonic() + 180
                ready_entries: list[dict[str, Any]] = []
                while not ready_entries:
                    assert time.monotonic() < deadline, (tmp_path / "alertmanager.log").read_text()[-2000:]
                    entries = _call(f"{service}/v1/alerts?model=m", token=READ_TOKEN)["alerts"]
                    ready_entries = [
                        entry
                        for entry in entries
                        if entry["alertname"] == "ModelmonDatasetDrift"
                        and entry["report"]["state"] == "ready"
                    ]
                    time.sleep(0.5)
            entry = ready_entries[0]
            assert entry["findings"]["drifted_columns"][0]["column"] == "x"
            assert entry["findings"]["lines"][0].startswith("drift: x (")
            bodies = [body for _, body in sink.wait_for(1, timeout=60)]
            (body,) = [item for item in bodies if item["alert"]["alertname"] == "ModelmonDatasetDrift"][:1]
            assert body["report"]["url"] == entry["report"]["url"] and body["report"]["url"].startswith(
                service
            )
            page = _call(body["report"]["url"], token=READ_TOKEN)
            assert b"ModelmonDatasetDrift" in page or b"drift" in page
        finally:
            if alertmanager is not None:
                alertmanager.terminate()
                alertmanager.wait(15)
            stop_process(serve)
