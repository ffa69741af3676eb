"""What integration tests share: skipping (or failing) on a missing binary, and free loopback ports.

A uniquely named module, so that every test folder imports the same one (a folder's own
``conftest.py`` would shadow ``tests/conftest.py`` under the name ``conftest``).

Integration tests need real binaries (prometheus, promtool, chromium, docker-compose, a Prefect
server). Without one they skip with the reason; with MODELMON_REQUIRE_INTEGRATION=1 (set by
.ci/run) a missing binary fails the test instead, so CI always runs them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REQUIRE_INTEGRATION = os.environ.get("MODELMON_REQUIRE_INTEGRATION") == "1"


def need(condition: bool, reason: str) -> None:
    """Skip (or, under MODELMON_REQUIRE_INTEGRATION=1, fail) when ``condition`` is false."""
    if condition:
        return
    if REQUIRE_INTEGRATION:
        pytest.fail(f"integration requirement missing: {reason}", pytrace=False)
    pytest.skip(reason)


#: Debian package that provides each binary the integration tests use
PACKAGES = {
    "promtool": "prometheus",
    "amtool": "prometheus-alertmanager",
    "docker-compose": "--no-install-recommends docker-compose",
}


def require_binary(name: str) -> str:
    """Path of an executable, or skip/fail naming the Debian package to install."""
    path = shutil.which(name) or (f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None)
    need(path is not None, f"`{name}` is not installed (apt-get install {PACKAGES.get(name, name)})")
    assert path is not None
    return path


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(
    config_path: Path, port: int | None, *options: str, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """``modelmon serve`` on ``port`` (None: no ``--port``, as for a shard that listens on its
    address) as a process of its own group (so a test can signal the group); its output goes to
    ``log``, by default ``serve-<port>.log`` beside the config."""
    log = log if log is not None else config_path.parent / f"serve-{port}.log"
    command = [sys.executable, "-m", "modelmon", "serve", "--config", str(config_path)]
    command += [] if port is None else ["--port", str(port)]
    with log.open("ab") as output:
        return subprocess.Popen(
            [*command, *options], stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )


def serve_until_healthy(config_path: Path, port: int, timeout: float = 60) -> subprocess.Popen[bytes]:
    """:func:`start_serve`, then wait for ``/health``; a service that does not come up is killed and its
    log's end raised."""
    from modelmon.demo.stack import wait_for_http

    process = start_serve(config_path, port)
    if not wait_for_http(f"http://127.0.0.1:{port}/health", timeout, lambda: process.poll() is None):
        process.kill()
        log = config_path.parent / f"serve-{port}.log"
        raise RuntimeError(f"modelmon serve did not start: {log.read_text()[-2000:]}")
    return process


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process's group, SIGKILL when it has not stopped within 30 s."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
