"""A sender's clock ahead of the service's cannot freeze a window, live or after a restart.

A real ``modelmon serve`` process with a SQLite store and a window of one hour. Events stamped
further ahead than ``ingest.future_tolerance_seconds`` are rejected by name and counted; those
within it are windowed. Then the service is killed (SIGKILL), thousands of events stamped days
ahead are put in its store (as a store written before the tolerance existed would hold), and it
starts again: ``/health`` answers within seconds on every poll while the window is rebuilt, and
the window comes back with the valid events only and recomputes. Placed by their timestamps, the
events ahead would each open a bucket of their own (thousands of them), and the recompute would
not finish for minutes.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import yaml

from integration_support import free_port, serve_until_healthy, stop_process
from modelmon.store import open_store

pytestmark = pytest.mark.slow

MODEL = {
    "task": "regression",
    "reference": "reference.parquet",
    "numerical": ["x"],
    "categorical": ["c"],
    "prediction": "y",
    "target": "t",
    "id": "id",
    "window": {"seconds": 3600},
    "refresh_seconds": 1,
}


def _get(url: str, timeout: float = 60.0) -> tuple[float, dict]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        body = json.loads(answer.read())
    return time.perf_counter() - started, body


def _post(url: str, events: list[dict]) -> tuple[int, dict]:
    data = json.dumps({"events": events}).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _event(i: int, stamp: float) -> dict:
    return {"id": f"e{i}", "timestamp": stamp, "features": {"x": 0.5, "c": "a"}, "prediction": 1.0}


def _wait_for_window(base: str, rows: int, after: str, seconds: float) -> dict:
    """The summary once a recompute later than ``after`` holds ``rows`` rows (or the last one seen)."""
    deadline = time.monotonic() + seconds
    summary: dict = {}
    while time.monotonic() < deadline:
        _, summary = _get(f"{base}/v1/models/m/summary")
        if summary.get("computed_at", "") > after and summary.get("current_rows") == rows:
            return summary
        time.sleep(0.2)
    return summary


def test_timestamps_ahead_are_rejected_and_cannot_freeze_the_window_or_its_rebuild(tmp_path):
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"x": rng.normal(size=500), "c": rng.choice(list("abc"), 500)})
    reference.assign(y=rng.normal(size=500), t=rng.normal(size=500)).to_parquet(
        tmp_path / "reference.parquet"
    )
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    config = tmp_path / "modelmon.yml"
    config.write_text(yaml.safe_dump({"store": store_url, "models": {"m": MODEL}}))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    service = serve_until_healthy(config, port)
    try:
        now = time.time()
        # 110 s apart: the first three are within the default tolerance of 300 s, the rest are not
        status, answer = _post(f"{base}/v1/models/m/events", [_event(k, now + 110 * k) for k in range(500)])
        assert status == 200 and answer["accepted"] == 3
        assert [item["index"] for item in answer["rejected"]] == list(range(3, 500))
        assert answer["rejected"][0]["error"].startswith("timestamp:")
        assert "ahead" in answer["rejected"][0]["error"]
        status, answer = _post(f"{base}/v1/models/m/events", [_event(k, now) for k in range(500, 600)])
        assert status == 200 and answer["accepted"] == 100
        status, answer = _post(f"{base}/v1/models/m/events", [_event(600, now + 3600)])
        assert status == 422 and answer["rejected"][0]["error"].startswith("timestamp:")
        _, health = _get(f"{base}/health")
        assert health["rejected_by_reason"]["m"] == {"timestamp_ahead": 498}
        assert _wait_for_window(base, 103, "", 60).get("current_rows") == 103

        os.killpg(service.pid, signal.SIGKILL)
        service.wait(10)
        ahead = datetime.now(UTC) + timedelta(days=1)
        with open_store(store_url) as store:
            store.events.add_events(
                "m",
                [
                    {**_event(k, 0), "timestamp": ahead + timedelta(seconds=100 * k), "received_at": ahead}
                    for k in range(1000, 4000)
                ],
            )
            assert store.events.count("m") == 3103

        restarted = datetime.now(UTC).isoformat()
        service = serve_until_healthy(config, port)
        seconds, statuses = [], []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and statuses[-1:] != ["ok"]:
            took, health = _get(f"{base}/health")
            seconds.append(took)
            statuses.append(health["status"])
            time.sleep(0.2)
        assert statuses[-1] == "ok", statuses[-5:]
        # seconds on a busy machine; a rebuild that opened a bucket per event ahead took minutes
        assert max(seconds) < 10.0, f"/health took {max(seconds):.2f} s during the rebuild"
        summary = _wait_for_window(base, 103, restarted, 30)
        assert summary["computed_at"] > restarted and summary["current_rows"] == 103
    finally:
        stop_process(service)
