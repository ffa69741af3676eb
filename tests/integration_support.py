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
import socket

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
