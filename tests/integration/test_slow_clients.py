"""Slow clients cannot take every connection: a real ``modelmon serve`` under a real ``ulimit -n``.

400 connections that send one byte of their headers every second (reconnecting when closed, as
an attacker does) are more than the process's 256 files. ``/health`` without a token and
ingest with one still answer within seconds (without the guard they are reset); a request whose
headers or body stall is answered 408 at its deadline."""

from __future__ import annotations

import http.client
import json
import resource
import shlex
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from integration_support import free_port, need, stop_process
from modelmon.demo.stack import wait_for_http

pytestmark = [pytest.mark.integration]

TOKEN = "slow-clients-test-token-0123456789"
FILES = 256
SLOW = 400
HEADER_SECONDS = 3.0
BODY_SECONDS = 3.0
#: a probe during the flood, on a busy machine; without the connection guard the probe is reset, and the
#: guard's eviction count says the probe got in by closing a slow connection, not by outwaiting one
PROMPT = 5.0


def _serve_under_file_limit(folder: Path, port: int) -> subprocess.Popen[bytes]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=600), "c": rng.choice(list("abc"), 600)})
    frame["y"] = 2 * frame["x"]
    frame.to_parquet(folder / "reference.parquet")
    model = {"task": "regression", "reference": "reference.parquet", "numerical": ["x"]}
    model |= {"categorical": ["c"], "prediction": "y"}
    config = {
        "store": f"sqlite:///{folder / 'store.db'}",
        "auth_token": TOKEN,
        "models": {"m": model},
        "limits": {"header_seconds": HEADER_SECONDS, "body_seconds": BODY_SECONDS},
    }
    (folder / "modelmon.yml").write_text(yaml.safe_dump(config))
    serve = [sys.executable, "-m", "modelmon", "serve", "--config", str(folder / "modelmon.yml")]
    command = f"ulimit -n {FILES} && exec {shlex.join([*serve, '--port', str(port)])}"
    with (folder / "serve.log").open("ab") as log:
        process = subprocess.Popen(
            ["bash", "-c", command], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    if not wait_for_http(f"http://127.0.0.1:{port}/health", 60, lambda: process.poll() is None):
        stop_process(process)
        raise RuntimeError(f"modelmon serve did not start: {(folder / 'serve.log').read_text()[-2000:]}")
    return process


def _request(port: int, method: str, path: str, body: Any = None, token: bool = False) -> tuple:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {TOKEN}"
    started = time.perf_counter()
    try:
        connection.request(method, path, None if body is None else json.dumps(body).encode(), headers)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    return response.status, data, time.perf_counter() - started


class _Slowloris:
    """``SLOW`` connections dripping one header byte each per second; closed ones are reopened."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.stop = threading.Event()
        self.sockets: list[socket.socket | None] = [None] * SLOW
        self.reopened = 0
        self.passes = threading.Semaphore(0)  # one release per pass over every connection
        self.thread = threading.Thread(target=self._drip, daemon=True)

    def _open(self) -> socket.socket | None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
            sock.sendall(b"POST /v1/models/m/events HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            return sock
        except OSError:
            return None

    def _drip(self) -> None:
        while not self.stop.is_set():
            for index, sock in enumerate(self.sockets):
                try:
                    if sock is None:
                        raise OSError("not open")
                    sock.send(b"a")
                except OSError:
                    if sock is not None:
                        sock.close()
                        self.reopened += 1
                    self.sockets[index] = self._open()
            self.passes.release()
            self.stop.wait(1.0)

    def __enter__(self) -> _Slowloris:
        self.sockets = [self._open() for _ in range(SLOW)]
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)
        for sock in self.sockets:
            if sock is not None:
                sock.close()


def _answer_of_stalled(port: int, request: bytes) -> tuple[bytes, float]:
    """Send ``request`` and nothing more; what the service answers, and after how long."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        started = time.perf_counter()
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received, time.perf_counter() - started


@pytest.mark.slow
def test_slow_connections_beyond_the_file_limit_leave_health_and_ingest_answering(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2 * SLOW:  # this test process holds the slow connections itself
        need(hard >= 2 * SLOW, f"the test needs {2 * SLOW} open files; `ulimit -n` allows {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (2 * SLOW, hard))
    port = free_port()
    process = _serve_under_file_limit(tmp_path, port)
    try:
        with _Slowloris(port) as flood:
            assert sum(sock is not None for sock in flood.sockets) > FILES  # more than the service's files
            for round_ in range(5):
                assert flood.passes.acquire(timeout=30)  # probes between the flood's passes
                status, _, seconds = _request(port, "GET", "/health")
                assert status == 200 and seconds < PROMPT, ("health", round_, seconds)
                status, _, seconds = _request(port, "GET", "/v1/models", token=True)
                assert status == 200 and seconds < PROMPT, ("models", round_, seconds)
                events = {
                    "events": [{"id": f"r{round_}", "features": {"x": 1.0, "c": "a"}, "prediction": 2.0}]
                }
                status, _, seconds = _request(port, "POST", "/v1/models/m/events", events, token=True)
                assert status == 200 and seconds < PROMPT, ("ingest", round_, seconds)
            assert flood.reopened > 0  # the service closed slow connections to make room for new ones
        connections = json.loads(_request(port, "GET", "/health")[1])["connections"]
        assert connections["limit"] == FILES - 128 and connections["evicted"] > 0
        # a request whose headers stall is answered 408 at the deadline, not held
        answer, seconds = _answer_of_stalled(port, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: a")
        assert answer.startswith(b"HTTP/1.1 408") and HEADER_SECONDS - 0.5 < seconds < HEADER_SECONDS + 5
        # and so is a body that stalls after its headers
        head = (
            f"POST /v1/models/m/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"events": ['
        )
        answer, seconds = _answer_of_stalled(port, head.encode())
        assert answer.startswith(b"HTTP/1.1 408") and BODY_SECONDS - 0.5 < seconds < BODY_SECONDS + 5
        assert b"did not arrive within 3 s" in answer
        health = json.loads(_request(port, "GET", "/health")[1])
        assert health["connections"]["header_timeouts"] >= 1
    finally:
        stop_process(process)
