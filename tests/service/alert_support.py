"""What the alert tests share: a model with a reference, shifted events, Alertmanager bodies and a
loopback HTTP sink that records what receivers would get."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pandas as pd

WRITE_TOKEN = "alert-tests-write-token-0123456789"
READ_TOKEN = "alert-tests-read-token-0123456789"


def reference(rows: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.normal(size=rows) for name in ("x", "w", "z")})
    frame["y"] = 2 * frame["z"] + rng.normal(size=rows) * 0.1
    frame["t"] = frame["y"] + rng.normal(size=rows) * 0.1
    return frame


def model_spec(**extra: Any) -> dict[str, Any]:
    spec = {
        "task": "regression",
        "numerical": ["x", "w", "z"],
        "prediction": "y",
        "target": "t",
        "id": "rid",
        "window": {"rows": 1000},
        "refresh_seconds": 1,
    }
    return {**spec, **extra}


def events(
    rows: int, shift_x: float = 0.0, shift_w: float = 0.0, seed: int = 1, start: int = 0
) -> list[dict]:
    """Events of the model; ``x`` moved by ``shift_x`` and ``w`` by ``shift_w`` standard deviations."""
    rng = np.random.default_rng(seed)
    made = []
    for index in range(rows):
        z = float(rng.normal())
        made.append(
            {
                "id": str(start + index),
                "features": {"x": float(rng.normal() + shift_x), "w": float(rng.normal() + shift_w), "z": z},
                "prediction": 2 * z,
                "target": 2 * z + float(rng.normal()) * 0.1,
            }
        )
    return made


def alert_body(
    status: str = "firing",
    fingerprint: str = "a1b2c3",
    name: str = "ModelmonDatasetDrift",
    model: str | None = "m",
    starts_at: datetime | None = None,
) -> dict[str, Any]:
    """An Alertmanager webhook body (version 4) with one alert."""
    labels = {"alertname": name, "severity": "warning", **({"model": model} if model else {})}
    starts = (starts_at or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{name}", model="{model}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "modelmon",
        "groupLabels": {"alertname": name},
        "commonLabels": labels,
        "commonAnnotations": {"summary": f"{name} on {model}"},
        "externalURL": "http://alertmanager.test:9093",
        "alerts": [
            {
                "status": status,
                "labels": labels,
                "annotations": {"summary": f"{name} on {model}"},
                "startsAt": starts,
                "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else datetime.now(UTC).isoformat(),
                "generatorURL": "http://prometheus.test:9090/graph",
                "fingerprint": fingerprint,
            }
        ],
    }


class Sink:
    """Bodies posted to a loopback HTTP server, by path."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.received: list[tuple[str, Any]] = []
        self._changed = threading.Condition()

    def add(self, path: str, body: Any) -> None:
        with self._changed:
            self.received.append((path, body))
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 60.0) -> list[tuple[str, Any]]:
        """At least ``count`` bodies, or AssertionError after ``timeout`` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"the sink got {len(self.received)} bodies, expected {count}")
            return list(self.received)


@contextmanager
def http_sink() -> Iterator[Sink]:
    """A loopback HTTP server that answers 200 to every POST and records its JSON body."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            sink.add(self.path, json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink = Sink(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
