"""A 503 is an outage to the client: the batch is kept (spooled) and tried again no sooner than the
service's ``Retry-After``."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from modelmon.client.sender import Sender
from modelmon.client.spool import Spool
from modelmon.client.transport import Outcome, post_batch


class _Busy(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"error": "the store writer is behind", "reason": "backlog_full"}'
        self.send_response(503)
        self.send_header("Retry-After", "2")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # type: ignore[no-untyped-def]
        pass


def test_a_503_is_retried_no_sooner_than_retry_after_and_the_batch_is_spooled(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Busy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        answer = post_batch(f"{url}/v1/models/m/events", b'{"events": []}', count=0)
        assert answer.outcome is Outcome.RETRY and answer.retry_after == 2.0
        assert "behind" in answer.error
        drops: list[int] = []
        spool = Spool(tmp_path / "m.jsonl")
        sender = Sender(url, "m", spool=spool, drop=lambda n, key, why: drops.append(n))
        before = time.monotonic()
        sender.deliver("events", [{"id": "a", "features": {"x": 1.0}, "prediction": 1.0}])
        assert spool.count == 1 and not drops
        assert sender.next_attempt - before >= 2.0  # backoff alone would wait 0.1 s
        spool.close()
    finally:
        server.shutdown()
        server.server_close()
