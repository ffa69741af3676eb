"""The prediction service keeps answering while monitoring is down, and nothing is lost.

A real monitoring service runs as a ``modelmon serve`` process; the demo prediction service
(instrumented with the client) answers requests in this process. The monitoring service first hangs
(SIGSTOP: connections open, nothing answers, as a stuck or overloaded process does), then dies
(SIGKILL: connections refused). Neither may fail or slow ``/predict``; a client that waited for the
hung service would spend its 2 s send timeout on each request, which the latency bound below (half a
second over the normal median) would catch. The events of that time are spooled to disk and arrive,
exactly once, after the monitoring service comes back on the same port.
"""

from __future__ import annotations

import os
import signal
import statistics
import time

import pytest
from service_process import free_port

from integration_support import serve_until_healthy, stop_process
from modelmon.config import load_config
from modelmon.demo.data import taxi_trips
from modelmon.demo.files import write_demo_files
from modelmon.demo.models import TAXI_CATEGORICAL, TAXI_NUMERICAL
from modelmon.demo.service import close_app, create_app
from modelmon.store import open_store

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _timed_predictions(client, rides) -> list[float]:
    seconds = []
    for ride in rides:
        started = time.perf_counter()
        answer = client.post("/predict", json=ride)
        seconds.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.get_data(as_text=True)
    return seconds


def test_prediction_service_survives_monitoring_outage_and_spool_replays(tmp_path):
    config_path = write_demo_files(tmp_path / "demo", rows=3000, seed=5)
    text = config_path.read_text().replace("sqlite:///modelmon.db", f"sqlite:///{tmp_path / 'store.db'}")
    config_path.write_text(text)
    config = load_config(config_path)
    port = free_port()
    frame = taxi_trips(700, seed=21)
    columns = [*TAXI_NUMERICAL, *TAXI_CATEGORICAL]
    rides = [
        {**{name: record[name] for name in columns}, "ride_id": f"ride-{i}"}
        for i, record in enumerate(frame.to_dict("records"))
    ]
    service = serve_until_healthy(config_path, port)
    app = create_app(config_path.parent, f"http://127.0.0.1:{port}", spool_dir=tmp_path / "spool")
    client = app.test_client()
    monitor = app.extensions["modelmon"]["monitors"]["/predict"]
    spool = tmp_path / "spool" / "taxi-duration.jsonl"
    try:
        up = _timed_predictions(client, rides[:200])
        assert monitor.flush(), "events sent while the service answered were not all answered"
        os.killpg(service.pid, signal.SIGSTOP)  # hung: the kernel still accepts, nobody answers
        hung = _timed_predictions(client, rides[200:350])
        os.killpg(service.pid, signal.SIGKILL)  # then dead: connections refused
        service.wait(10)
        down = _timed_predictions(client, rides[350:500])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (spool.exists() and spool.stat().st_size > 0):
            time.sleep(0.1)
        assert spool.exists() and spool.stat().st_size > 0, (
            "events were not spooled while monitoring was down"
        )

        service = serve_until_healthy(config_path, port)
        up_again = _timed_predictions(client, rides[500:])
        with open_store(config.store) as store:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and store.events.count("taxi-duration") < len(rides):
                time.sleep(0.5)
            stored = store.events.count("taxi-duration")
            ids = [value for chunk in store.events.read_frames("taxi-duration") for value in chunk["id"]]
    finally:
        close_app(app)
        if service.poll() is None:
            stop_process(service)
    assert stored == len(rides)
    assert sorted(ids) == sorted(ride["ride_id"] for ride in rides)  # every event once, none twice
    # Waiting on the hung service would cost each request up to the 2 s send timeout. The bounds leave
    # room for a shared, busy machine (a few hundred milliseconds), not for that.
    assert statistics.median(hung) < statistics.median(up) + 0.5
    assert _p95(hung) < _p95(up) + 1.0
    assert statistics.median(down) < statistics.median(up) + 0.5
    assert statistics.median(up_again) < statistics.median(up) + 0.5


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]
