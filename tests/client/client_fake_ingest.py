"""A tiny stand-in for the monitoring service's ingest API, for the client tests.

It records every request and answers like the real service: ``{"accepted": n, "rejected": [...]}``. Tests
steer it through attributes: ``statuses`` (answers to give, one per request, before the normal 200),
``reject`` (indexes to reject in each batch), and ``gate`` (an Event each request waits for).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeIngest:
    """Start with :meth:`start`, stop with :meth:`stop`; starting again reuses the same port."""

    def __init__(self) -> None:
        self.port = 0
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.reject: set[int] = set()
        self.gate: threading.Event | None = None
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeIngest:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def items(self, kind: str = "events") -> list[dict[str, Any]]:
        """Every accepted event (or target) received, in arrival order."""
        with self._lock:
            return [
                item
                for request in self.requests
                if request["path"].endswith(f"/{kind}") and request["status"] == 200
                for index, item in enumerate(request["body"][kind])
                if index not in self.reject
            ]

    def wait_for(self, count: int, kind: str = "events", timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(items := self.items(kind)) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return items

    def _answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        if self.gate is not None:
            self.gate.wait(10)
        body = json.loads(raw)
        with self._lock:
            status = self.statuses.pop(0) if self.statuses else 200
            self.requests.append({"path": path, "headers": headers, "body": body, "status": status})
        if status != 200:
            return status, {"error": f"fake ingest answers {status}: features.x: expected a number"}
        kind = "events" if path.endswith("/events") else "targets"
        rejected = [{"index": i, "error": "prediction: missing"} for i in sorted(self.reject)]
        return 200, {"accepted": len(body[kind]) - len(rejected), "rejected": rejected}


def _handler(ingest: FakeIngest) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status, answer = ingest._answer(self.path, dict(self.headers), raw)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output quiet

    return Handler
