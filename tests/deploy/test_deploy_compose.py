"""The compose file: valid for docker-compose, complete, healthy-ordered and free of secrets."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_harness import DEPLOY, REPO

from integration_support import require_binary

COMPOSE = DEPLOY / "docker-compose.yml"
PORTS = {"monitoring": 8085, "prediction": 9696, "prometheus": 9090, "grafana": 3000, "mongodb": 27017,
         "prefect-server": 4200, "alertmanager": 9093}  # fmt: skip
ONE_SHOT = {"demo-data", "traffic"}
TOKEN = "compose-test-token-0123456789"


def compose_config(**env: str) -> subprocess.CompletedProcess[str]:
    binary = require_binary("docker-compose")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("GRAFANA_", "COMPOSE_", "MODELMON_"))}
    return subprocess.run(
        [binary, "-f", str(COMPOSE), "config"], env={**environ, **env}, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    """The compose file as docker-compose resolves it (anchors merged, variables interpolated)."""
    result = compose_config(GRAFANA_ADMIN_PASSWORD="test", MODELMON_TOKEN=TOKEN)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_docker_compose_accepts_the_file(resolved: dict[str, Any]) -> None:
    assert set(resolved["services"]) == set(PORTS) | {"demo-data", "batch", "traffic"}


def test_grafana_password_is_required_from_the_environment() -> None:
    result = compose_config(MODELMON_TOKEN=TOKEN)
    assert result.returncode != 0
    assert "GRAFANA_ADMIN_PASSWORD" in result.stderr


def test_the_monitoring_token_is_required_and_prometheus_scrapes_with_the_read_token(
    resolved: dict[str, Any],
) -> None:
    result = compose_config(GRAFANA_ADMIN_PASSWORD="test")
    assert result.returncode != 0 and "set MODELMON_TOKEN in deploy/.env" in result.stderr
    monitoring = resolved["services"]["monitoring"]
    assert monitoring["environment"]["MODELMON_TOKEN"] == TOKEN
    read_token = Path(monitoring["environment"]["MODELMON_READ_TOKEN_FILE"])
    mounts = {m["target"]: Path(m["source"]) for m in map(_mount, monitoring["volumes"])}
    assert mounts[str(read_token.parent)] == DEPLOY / "secrets"
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())["scrape_configs"]
    (job,) = [job for job in scrape if job["job_name"] == "modelmon-monitoring"]
    secret = Path(job["authorization"]["credentials_file"])
    prometheus = {
        m["target"]: Path(m["source"]) for m in map(_mount, resolved["services"]["prometheus"]["volumes"])
    }
    assert prometheus[str(secret.parent)] == DEPLOY / "secrets" and secret.name == read_token.name


def test_ports_are_the_designed_ones(resolved: dict[str, Any]) -> None:
    for name, port in PORTS.items():
        published = {p["target"] if isinstance(p, dict) else int(str(p).split(":")[-1].split("/")[0])
                     for p in resolved["services"][name].get("ports", [])}  # fmt: skip
        assert published == {port}, name


def test_long_running_services_have_healthchecks_and_start_after_healthy_dependencies(
    resolved: dict[str, Any],
) -> None:
    services = resolved["services"]
    for name, service in services.items():
        check = service.get("healthcheck", {})
        if name in ONE_SHOT or name == "batch":
            assert check.get("test") == ["NONE"] or check.get("disable"), name
            continue
        assert check.get("test", ["NONE"]) != ["NONE"], f"{name} has no healthcheck"
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            expected = "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            assert condition["condition"] == expected, f"{name} -> {dependency}"
    assert set(services["grafana"]["depends_on"]) == {"prometheus"}
    assert set(services["monitoring"]["depends_on"]) == {"mongodb", "demo-data"}
    assert set(services["batch"]["depends_on"]) >= {"prefect-server", "mongodb"}


def test_services_share_named_networks_only_where_they_talk(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert set(resolved["networks"]) == {"backend", "observability"}
    assert set(services["mongodb"]["networks"]) == {"backend"}
    for name in ("prometheus", "grafana", "alertmanager"):
        assert set(services[name]["networks"]) == {"observability"}, name
    for name in ("monitoring", "prediction"):
        assert set(services[name]["networks"]) == {"backend", "observability"}, name


def test_stateful_services_keep_their_data_in_named_volumes(resolved: dict[str, Any]) -> None:
    expected = {
        "mongodb": "/data/db",
        "prometheus": "/prometheus",
        "grafana": "/var/lib/grafana",
        "alertmanager": "/alertmanager",
        "prefect-server": "/var/lib/modelmon/prefect",
        "prediction": "/var/lib/modelmon/spool",
        "monitoring": "/var/lib/modelmon/reports",
    }
    for name, target in expected.items():
        mounts = {v["target"]: v for v in map(_mount, resolved["services"][name]["volumes"])}
        assert mounts[target]["type"] == "volume", name


def test_mounted_files_exist_in_the_repository(resolved: dict[str, Any]) -> None:
    for name, service in resolved["services"].items():
        for mount in map(_mount, service.get("volumes", [])):
            if mount["type"] == "bind":
                assert Path(mount["source"]).exists(), f"{name} mounts missing {mount['source']}"
                assert Path(mount["source"]).resolve().is_relative_to(REPO), name


def test_the_batch_flow_talks_to_the_prefect_server(resolved: dict[str, Any]) -> None:
    env = resolved["services"]["batch"]["environment"]
    assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"


def test_no_secret_is_written_in_the_file() -> None:
    text = COMPOSE.read_text()
    for line in text.splitlines():
        if re.search(r"(?i)(password|secret|token)\s*[:=]", line):
            value = line.split(":", 1)[1].strip()
            assert value.startswith("${"), f"hard-coded secret? {line.strip()}"


def test_env_example_names_every_variable_the_compose_file_reads() -> None:
    used = set(re.findall(r"\$\{([A-Z_]+)", COMPOSE.read_text()))
    documented = set(re.findall(r"^([A-Z_]+)=", (DEPLOY / ".env.example").read_text(), re.MULTILINE))
    assert used == documented


def _mount(volume: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(volume, dict):
        return volume
    source, target = volume.split(":")[:2]
    return {"type": "bind" if source.startswith("/") else "volume", "source": source, "target": target}
