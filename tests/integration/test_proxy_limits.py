"""The sharded deployment's proxy applies the service's limits itself: a real nginx with the config
``modelmon proxy-config`` writes, in front of a real ``modelmon serve``.

Without them nginx waits 60 s for headers and between two reads of a body, and lets one address
hold every connection; slow clients would then take the proxy's connections, which the service's
own limits (tests/integration/test_slow_clients.py) cannot see."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import subprocess
import time
from pathlib import Path

import pytest

from integration_support import free_port, require_binary, serve_until_healthy, stop_process
from modelmon.config import load_config
from modelmon.demo.stack import wait_for_http
from modelmon.service.shard import CLIENT_SHARE, nginx_config

pytestmark = [pytest.mark.integration]

TOKEN = "proxy-limits-test-token-0123456789"
HEADER_SECONDS = 1.0
#: the stalled bodies stay open this long: the 503 beyond the address's share is seen within half of it
BODY_SECONDS = 6.0
CONNECTIONS = 20
#: nginx's own default is 60 s for both: a connection still open after this long was not cut by the limits
CUT_WITHIN = 30.0
#: /health through the proxy while slow headers drip: seconds on a busy machine, where without the
#: limits it would wait for one of the 20 connections that nginx holds for 60 s
PROMPT = 5.0


def _config(folder: Path) -> Path:
    (folder / "reference.csv").write_text("x,y\n" + "".join(f"{i % 7},{i % 3}\n" for i in range(300)))
    config = {
        "store": f"sqlite:///{folder / 'store.db'}",
        "auth_token": TOKEN,
        "limits": {
            "header_seconds": HEADER_SECONDS,
            "body_seconds": BODY_SECONDS,
            "connections": CONNECTIONS,
        },
        "models": {
            "m": {"task": "regression", "reference": "reference.csv", "numerical": ["x"], "prediction": "y"}
        },
    }
    (folder / "modelmon.yml").write_text(json.dumps(config))
    return folder / "modelmon.yml"


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    """The proxy's port, with ``modelmon serve`` behind it (shared: each test closes what it opened)."""
    nginx = require_binary("nginx")
    tmp_path = tmp_path_factory.mktemp("proxy")
    config_path = _config(tmp_path)
    config = load_config(config_path)
    port, proxy_port = free_port(), free_port()
    service = serve_until_healthy(config_path, port)
    (tmp_path / "logs").mkdir()
    text = nginx_config({f"127.0.0.1:{port}": ["m"]}, proxy_port, config.limits, config.max_body_bytes)
    (tmp_path / "nginx.conf").write_text(text)
    directives = f"daemon off; pid {tmp_path / 'nginx.pid'}; error_log {tmp_path / 'nginx.err'};"
    with (tmp_path / "nginx.out").open("wb") as log:
        proxy = subprocess.Popen(
            [nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", directives],
            stderr=subprocess.STDOUT, stdout=log, start_new_session=True,
        )  # fmt: skip
    try:
        assert wait_for_http(f"http://127.0.0.1:{proxy_port}/health", 60, lambda: proxy.poll() is None), (
            (tmp_path / "nginx.err").read_text()
            if (tmp_path / "nginx.err").exists()
            else "nginx did not start"
        )
        yield proxy_port
    finally:
        stop_process(proxy)
        stop_process(service)


def _open(port: int, first: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(first)
    sock.setblocking(False)
    return sock


def _cut(sock: socket.socket) -> bool:
    """Whether the proxy answered or closed this connection (a 408, an end of stream, a reset)."""
    try:
        return sock.recv(4096) is not None  # b"" (closed) or the proxy's answer
    except BlockingIOError:
        return False
    except OSError:
        return True


def _get(port: int, path: str = "/health") -> tuple[int, dict[str, str], bytes, float]:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read(), time.perf_counter() - started
    finally:
        connection.close()


@pytest.mark.slow
def test_the_proxy_cuts_headers_that_drip_past_the_deadline_and_health_gets_through(proxy):
    slow = [_open(proxy, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ") for _ in range(30)]
    started = time.monotonic()
    open_ones = list(slow)
    slowest_health = 0.0
    while open_ones and time.monotonic() - started < CUT_WITHIN:
        for sock in open_ones:  # a byte every 0.2 s: never a pause, only a header that never ends
            with contextlib.suppress(OSError):  # cut already: seen below
                sock.send(b"a")
        status, _, _, seconds = _get(proxy)
        assert status == 200
        slowest_health = max(slowest_health, seconds)
        time.sleep(0.2)
        open_ones = [sock for sock in open_ones if not _cut(sock)]
    for sock in slow:
        sock.close()
    assert not open_ones, f"{len(open_ones)} of 30 slow headers still open after {CUT_WITHIN} s"
    assert slowest_health < PROMPT, slowest_health


@pytest.mark.slow
def test_one_address_holds_at_most_its_share_and_stalled_bodies_are_cut(proxy):
    share = CONNECTIONS // CLIENT_SHARE
    head = (
        f"POST /v1/models/m/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    ).encode()
    stalled = [_open(proxy, head + b'{"events": [') for _ in range(share)]
    started = time.monotonic()
    deadline = started + BODY_SECONDS / 2
    status, headers, body, _ = _get(proxy)
    while status != 503 and time.monotonic() < deadline:  # until nginx has read the stalled headers
        status, headers, body, _ = _get(proxy)
    assert status == 503, f"a request beyond the address's share of {share} was answered {status}"
    assert headers["Retry-After"] == "1" and json.loads(body)["reason"] == "proxy_connections"
    while not all(map(_cut, stalled)) and time.monotonic() - started < CUT_WITHIN:
        time.sleep(0.1)
    cut_after = time.monotonic() - started
    for sock in stalled:
        sock.close()
    assert cut_after < CUT_WITHIN, f"stalled bodies still open after {CUT_WITHIN} s"
    assert _get(proxy)[0] == 200
