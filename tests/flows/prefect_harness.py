"""A real ``prefect server start`` on a free loopback port, for the flow tests.

The server keeps its database in a folder of the test's own (``PREFECT_HOME``); analytics are off.
Starting takes a while on a small machine (database migrations), so the flow tests share one
server (``prefect_server`` in conftest.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from integration_support import free_port
from modelmon.demo.stack import wait_for_http

#: how long a server may take to answer /api/health on a busy two-core machine
START_TIMEOUT = 150.0


def prefect_environment(home: Path, api_url: str | None = None) -> dict[str, str]:
    """The environment of a process that talks to the test's Prefect server (or is it)."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    environ.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_ENABLED="false",
        PREFECT_LOGGING_LEVEL="INFO",
        # a served flow looks for due runs this often (10 s by default)
        PREFECT_RUNNER_POLL_FREQUENCY="2",
    )
    if api_url is not None:
        environ["PREFECT_API_URL"] = api_url
    return environ


@dataclass
class PrefectServer:
    process: subprocess.Popen[bytes]
    api_url: str
    home: Path
    log: Path

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {**prefect_environment(self.home, self.api_url), **(extra or {})}

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Interrupt a process group we started (Ctrl-C), then terminate and kill it if it lingers."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def die_with_parent() -> None:
    """``preexec_fn`` on Linux: the child gets SIGTERM when the test process dies, even when the
    test process is killed before its fixtures tear down (elsewhere this does nothing)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start_prefect_server(folder: Path) -> PrefectServer | None:
    """Start a server and wait for its health check; ``None`` (server stopped) when it never answers."""
    home = folder / "prefect-home"
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    log = folder / "prefect-server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=prefect_environment(home),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    server = PrefectServer(process, api_url, home, log)
    if wait_for_http(f"{api_url}/health", START_TIMEOUT, lambda: process.poll() is None):
        return server
    server.stop()
    return None
