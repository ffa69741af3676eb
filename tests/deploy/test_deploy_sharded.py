"""The sharded deployment (docker-compose.sharded.yml over docker-compose.yml): two monitoring processes,
each owning models of the deploy config, behind an nginx proxy that keeps the name and port of the
single service; the proxy's config is what ``modelmon proxy-config`` prints for them, nginx accepts it,
and Prometheus scrapes each process, not the proxy."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_harness import DEPLOY, RULES, require_tool, with_secrets
from test_deploy_compose import COMPOSE, PORTS, SHARDED_OVERRIDE, TOKEN, _mount, compose_config

from integration_support import require_binary

SHARDED = SHARDED_OVERRIDE
NGINX = DEPLOY / "nginx"
PROMETHEUS = DEPLOY / "prometheus"
SHARDS = ("monitoring-a", "monitoring-b")


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    result = compose_config(COMPOSE, SHARDED, GRAFANA_ADMIN_PASSWORD="test", MODELMON_TOKEN=TOKEN)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def _owners(services: dict[str, Any]) -> dict[str, list[str]]:
    """``{host:port: models}`` of the shards, as their commands in the compose file run them."""
    return {
        f"{name}:{_option(services[name]['command'], '--port')}": _option(
            services[name]["command"], "--models"
        ).split(",")
        for name in SHARDS
    }


def test_the_shards_own_every_model_of_the_config_once(services: dict[str, Any]) -> None:
    base = yaml.safe_load(COMPOSE.read_text())["services"]
    assert set(services) == set(base) | set(SHARDS)
    config = yaml.safe_load((DEPLOY / "modelmon" / "modelmon.yml").read_text())
    owned = [model for models in _owners(services).values() for model in models]
    assert sorted(owned) == sorted(config["models"])
    for name in SHARDS:
        shard = services[name]
        assert shard["command"][0] == "serve" and _option(shard["command"], "--host") == "0.0.0.0"
        assert shard["environment"]["MODELMON_TOKEN"] == TOKEN, (
            "a shard listening on all interfaces needs one"
        )
        assert "ports" not in shard, "a shard is reached through the proxy, and by Prometheus on its network"
        assert set(shard["networks"]) == {"backend", "observability"}
        assert shard["healthcheck"]["test"][:2] == ["CMD", "python"]


def test_the_proxy_takes_the_single_services_name_and_port_and_holds_no_secret(
    services: dict[str, Any],
) -> None:
    proxy = services["monitoring"]
    assert Path(proxy["build"]["context"]) == NGINX and proxy["image"] == "modelmon-proxy:latest"
    assert proxy["command"][0] == "nginx"
    published = {str(p).split(":")[-1].split("/")[0] for p in proxy["ports"]}
    assert published == {str(PORTS["monitoring"])}
    assert {name: proxy["depends_on"][name]["condition"] for name in SHARDS} == dict.fromkeys(
        SHARDS, "service_healthy"
    )
    mounts = {m["target"]: m for m in map(_mount, proxy["volumes"])}
    assert mounts["/run/modelmon-secrets"]["type"] == "volume", "the proxy must not see the tokens"
    assert not any(Path(m["source"]) == DEPLOY / "secrets" for m in mounts.values())
    # the prediction service and the traffic reach monitoring as before, now through the proxy
    assert _option(services["prediction"]["command"], "--monitor-url") == "http://monitoring:8085"


def test_the_shipped_nginx_config_is_what_proxy_config_prints_for_the_shards(
    services: dict[str, Any],
) -> None:
    command = [
        sys.executable,
        "-m",
        "modelmon",
        "proxy-config",
        "--config",
        str(DEPLOY / "modelmon" / "modelmon.yml"),
    ]
    shards = [f"--shard={address}={','.join(models)}" for address, models in _owners(services).items()]
    printed = subprocess.run(
        [*command, *shards, "--listen", "8085"], capture_output=True, text=True, check=True
    )
    assert (NGINX / "modelmon-sharded.conf").read_text() == printed.stdout
    assert "COPY modelmon-sharded.conf /etc/nginx/nginx.conf" in (NGINX / "Dockerfile").read_text()


def test_nginx_accepts_the_shipped_config(tmp_path: Path, services: dict[str, Any]) -> None:
    nginx = require_binary("nginx")
    # nginx resolves upstream host names when it loads a config; the shards' names exist only on the
    # compose network, so here they stand for loopback
    text = (NGINX / "modelmon-sharded.conf").read_text()
    for address in _owners(services):
        host = address.rsplit(":", 1)[0]
        assert f"server {address};" in text
        text = text.replace(f"server {host}:", "server 127.0.0.1:")
    (tmp_path / "logs").mkdir()
    (tmp_path / "nginx.conf").write_text(text)
    directives = f"pid {tmp_path / 'nginx.pid'}; error_log {tmp_path / 'nginx.err'};"
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", directives],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_prometheus_scrapes_each_shard_and_nothing_else_changes(
    tmp_path: Path, services: dict[str, Any]
) -> None:
    mounts = {m["target"]: Path(m["source"]) for m in map(_mount, services["prometheus"]["volumes"])}
    assert mounts["/etc/prometheus/prometheus.yml"] == PROMETHEUS / "prometheus.sharded.yml"
    sharded = yaml.safe_load((PROMETHEUS / "prometheus.sharded.yml").read_text())
    single = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    (job,) = [job for job in sharded["scrape_configs"] if job["job_name"] == "modelmon-monitoring"]
    assert job["static_configs"] == [{"targets": list(_owners(services))}]
    (single_job,) = [job for job in single["scrape_configs"] if job["job_name"] == "modelmon-monitoring"]
    single_job["static_configs"] = job["static_configs"]
    assert sharded == single, "the sharded config differs from prometheus.yml in more than its targets"

    config = with_secrets(sharded, tmp_path)
    shutil.copytree(RULES, tmp_path / "rules")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    result = subprocess.run(
        [require_tool("promtool", "prometheus"), "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
