"""The alert action's calls to Prefect's API, against a real HTTP server on loopback that answers as
Prefect does when its database is busy (503, nothing written)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from modelmon.service.alerts.action import ATTEMPTS, ActionError, start_deployment


class _Prefect(BaseHTTPRequestHandler):
    busy = 0  # answers 503 to this many requests first
    calls: list[str] = []

    def _answer(self, body: object) -> None:
        type(self).calls.append(f"{self.command} {self.path}")
        if type(self).busy > 0:
            type(self).busy -= 1
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(b'{"exception_message": "Service Unavailable"}')
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer({"id": "d-1"})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self._answer({"id": "r-1", "name": "quiet-fox"})

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def prefect() -> Iterator[str]:
    _Prefect.busy, _Prefect.calls = 0, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Prefect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()
    server.server_close()


def test_a_busy_prefect_is_asked_again_and_the_run_starts(prefect: str) -> None:
    _Prefect.busy = 2  # the lookup is refused twice, then goes through
    run = start_deployment(prefect, "retrain/on-alert", {"model": "m"}, timeout=5)
    assert run == {"id": "r-1", "name": "quiet-fox", "deployment_id": "d-1"}
    assert _Prefect.calls == [
        *(["GET /api/deployments/name/retrain/on-alert"] * 3),
        "POST /api/deployments/d-1/create_flow_run",
    ]


def test_a_prefect_busy_beyond_the_attempts_is_an_action_error_naming_the_tries(prefect: str) -> None:
    _Prefect.busy = ATTEMPTS + 10
    with pytest.raises(ActionError, match=rf"Prefect answered 503 .*after {ATTEMPTS} tries"):
        start_deployment(prefect, "retrain/on-alert", {"model": "m"}, timeout=5)
    assert len(_Prefect.calls) == ATTEMPTS
