"""The compose file: valid for docker-compose, complete, healthy-ordered and free of secrets; and its
PostgreSQL variant (profile ``postgres`` plus docker-compose.postgres.yml) that moves the store."""

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
POSTGRES_OVERRIDE = DEPLOY / "docker-compose.postgres.yml"
SHARDED_OVERRIDE = DEPLOY / "docker-compose.sharded.yml"
PORTS = {"monitoring": 8085, "prediction": 9696, "prometheus": 9090, "grafana": 3000, "mongodb": 27017,
         "prefect-server": 4200, "alertmanager": 9093}  # fmt: skip
ONE_SHOT = {"demo-data", "traffic"}
TOKEN = "compose-test-token-0123456789"


def compose_config(*files: Path, profile: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    binary = require_binary("docker-compose")
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GRAFANA_", "COMPOSE_", "POSTGRES_", "MODELMON_"))
    }
    chosen = [part for file in files or (COMPOSE,) for part in ("-f", str(file))]
    profiles = ["--profile", profile] if profile else []
    return subprocess.run(
        [binary, *profiles, *chosen, "config"], env={**environ, **env}, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    """The compose file as docker-compose resolves it (anchors merged, variables interpolated)."""
    result = compose_config(GRAFANA_ADMIN_PASSWORD="test", MODELMON_TOKEN=TOKEN)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_docker_compose_accepts_the_file(resolved: dict[str, Any]) -> None:
    assert set(resolved["services"]) == set(PORTS) | {"demo-data", "batch", "traffic", "postgres"}


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
    assert set(services["postgres"]["networks"]) == {"backend"}
    for name in ("prometheus", "grafana", "alertmanager"):
        assert set(services[name]["networks"]) == {"observability"}, name
    for name in ("monitoring", "prediction"):
        assert set(services[name]["networks"]) == {"backend", "observability"}, name


def test_stateful_services_keep_their_data_in_named_volumes(resolved: dict[str, Any]) -> None:
    expected = {
        "mongodb": "/data/db",
        "postgres": "/var/lib/postgresql/data",
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


def test_modelmon_services_run_on_a_read_only_root_and_keep_the_journal_on_a_volume(
    resolved: dict[str, Any],
) -> None:
    services = resolved["services"]
    modelmon = [name for name, service in services.items() if "modelmon" in service["image"]]
    assert set(modelmon) == {"demo-data", "monitoring", "prediction", "traffic", "prefect-server", "batch"}
    for name in modelmon:
        assert services[name]["read_only"] is True, name
        assert "/tmp" in services[name]["tmpfs"], name
    assert {services[name]["image"] for name in ("prefect-server", "batch")} == {"modelmon-batch:latest"}
    mounts = {v["target"]: v for v in map(_mount, services["monitoring"]["volumes"])}
    assert mounts["/var/lib/modelmon/data"]["type"] == "volume"  # MODELMON_DATA_DIR: the journal


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
    text = COMPOSE.read_text() + POSTGRES_OVERRIDE.read_text() + SHARDED_OVERRIDE.read_text()
    for line in text.splitlines():
        # a variable's own name inside ${...} is no secret (the store URL is built from one)
        if re.search(r"(?i)(password|secret|token)\s*[:=]", re.sub(r"\$\{[^}]*\}", "", line)):
            value = line.split(":", 1)[1].strip()
            assert value.startswith("${"), f"hard-coded secret? {line.strip()}"
    assert re.search(r"modelmon:\$\{POSTGRES_PASSWORD:\?[^}]*\}@postgres", POSTGRES_OVERRIDE.read_text())


def test_env_example_names_every_variable_the_compose_file_reads() -> None:
    files = (COMPOSE, POSTGRES_OVERRIDE, SHARDED_OVERRIDE)
    used = set(re.findall(r"\$\{([A-Z_]+)", "".join(file.read_text() for file in files)))
    documented = set(re.findall(r"^([A-Z_]+)=", (DEPLOY / ".env.example").read_text(), re.MULTILINE))
    assert used == documented


def test_postgres_is_an_optional_profile_and_the_override_moves_the_store_there() -> None:
    from modelmon.store import SCHEMES

    base = yaml.safe_load(COMPOSE.read_text())["services"]
    assert base["postgres"]["profiles"] == ["postgres"]
    assert "postgres" not in base["monitoring"]["depends_on"]
    result = compose_config(COMPOSE, POSTGRES_OVERRIDE, profile="postgres", GRAFANA_ADMIN_PASSWORD="test",
                            POSTGRES_PASSWORD="pg-pass_1", MODELMON_TOKEN=TOKEN)  # fmt: skip
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    url = "postgresql://modelmon:pg-pass_1@postgres:5432/modelmon"
    for name in ("monitoring", "batch"):
        assert services[name]["environment"]["MODELMON_STORE"] == url, name
        assert services[name]["depends_on"]["postgres"] == {"condition": "service_healthy"}, name
    assert services["monitoring"]["environment"]["MODELMON_TOKEN"] == TOKEN  # the base file's stays
    assert url.startswith(SCHEMES)
    postgres = services["postgres"]
    assert postgres["environment"]["POSTGRES_PASSWORD"] == "pg-pass_1"
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert "ports" not in postgres, "the store is reached on the backend network only"


def test_the_postgres_override_requires_its_password() -> None:
    result = compose_config(
        COMPOSE, POSTGRES_OVERRIDE, profile="postgres", GRAFANA_ADMIN_PASSWORD="test", MODELMON_TOKEN=TOKEN
    )
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


def _mount(volume: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(volume, dict):
        return volume
    source, target = volume.split(":")[:2]
    return {"type": "bind" if source.startswith("/") else "volume", "source": source, "target": target}
