"""``modelmon serve`` refuses a non-loopback address without a token unless ``--insecure``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import uvicorn
import yaml
from click.testing import CliRunner
from security_support import MODEL, TOKEN, reference

from integration_support import free_port
from modelmon.cli.serve import serve
from modelmon.demo.stack import wait_for_http

_NO_TOKEN = {name: None for name in ("MODELMON_TOKEN", "MODELMON_TOKEN_FILE", "MODELMON_STORE")}


def _config(folder: Path, **top) -> Path:
    reference().to_parquet(folder / "reference.parquet")
    model = {**MODEL, "reference": "reference.parquet"}
    path = folder / "modelmon.yml"
    store = f"sqlite:///{folder / 'store.db'}"
    path.write_text(yaml.safe_dump({"store": store, "models": {"m": model}, **top}))
    return path


def _serve(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MODELMON_")} | (env or {})
    command = [sys.executable, "-m", "modelmon", "serve", "--config", str(config), *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environ)


def _stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    output, _ = process.communicate(timeout=20)
    return output


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "monitoring.example"])
def test_a_non_loopback_address_without_a_token_is_refused_saying_what_to_do(tmp_path, host):
    result = CliRunner().invoke(serve, ["--config", str(_config(tmp_path)), "--host", host], env=_NO_TOKEN)
    assert result.exit_code == 2
    assert f"refusing to listen on {host} without a token" in result.output
    assert "MODELMON_TOKEN" in result.output and "--insecure" in result.output


def test_a_token_from_the_environment_allows_any_address(tmp_path, monkeypatch):
    listened: list[str] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, host, **options: listened.append(host))
    env = {**_NO_TOKEN, "MODELMON_TOKEN": TOKEN}
    result = CliRunner().invoke(serve, ["--config", str(_config(tmp_path)), "--host", "0.0.0.0"], env=env)
    assert result.exit_code == 0, result.output
    assert listened == ["0.0.0.0"]


@pytest.mark.slow
def test_insecure_starts_and_warns(tmp_path):
    port = free_port()
    process = _serve(_config(tmp_path), "--host", "0.0.0.0", "--port", str(port), "--insecure")
    try:
        assert wait_for_http(f"http://127.0.0.1:{port}/health", 60, lambda: process.poll() is None)
    finally:
        output = _stop(process)
    assert "WARNING" in output and "WITHOUT a token (--insecure)" in output
