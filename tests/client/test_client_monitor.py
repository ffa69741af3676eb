"""Monitor against a fake ingest API: batching, auth, spooling and replay, overflow, refused batches."""

from __future__ import annotations

import datetime
import decimal
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from client_fake_ingest import FakeIngest

from modelmon.client import Monitor


@pytest.fixture
def ingest() -> Iterator[FakeIngest]:
    fake = FakeIngest().start()
    yield fake
    if fake.gate is not None:
        fake.gate.set()
    fake.stop()


@pytest.fixture
def make_monitor(tmp_path: Path) -> Iterator:
    monitors: list[Monitor] = []

    def make(url: str, **options) -> Monitor:
        options = {
            "flush_interval": 0.02,
            "max_backoff": 0.2,
            "spool_path": tmp_path / "spool.jsonl",
        } | options
        monitor = Monitor(url, options.pop("model", "taxi"), **options)
        monitors.append(monitor)
        return monitor

    yield make
    for monitor in monitors:
        monitor.close(timeout=2.0)


def test_events_arrive_in_batches_with_the_contract_shape(ingest, make_monitor):
    monitor = make_monitor(ingest.url, batch_size=10)
    ids = [
        monitor.log(
            {"trip_distance": i / 10, "PULocationID": "132"},
            12.5 + i,
            probabilities={"long": 0.25},
            latency_ms=3.5,
            metadata={"version": "v2"},
        )
        for i in range(25)
    ]
    given = monitor.log(
        {"trip_distance": 1.0}, 3.0, id="ride-7", target=4.0, attributions={"trip_distance": 0.8}
    )

    assert monitor.flush(timeout=30.0)
    events = ingest.items()
    assert [event["id"] for event in events] == [*ids, "ride-7"]
    assert given == "ride-7" and len(set(ids)) == 25 and all(len(i) == 32 for i in ids)
    assert all(len(r["body"]["events"]) <= 10 for r in ingest.requests)
    assert len(ingest.requests) >= 3
    assert {r["path"] for r in ingest.requests} == {"/v1/models/taxi/events"}
    first = events[0]
    assert set(first) == {
        "id",
        "timestamp",
        "features",
        "prediction",
        "probabilities",
        "latency_ms",
        "metadata",
    }
    assert first["features"] == {"trip_distance": 0.0, "PULocationID": "132"}
    assert first["prediction"] == 12.5 and first["probabilities"] == {"long": 0.25}
    stamp = datetime.datetime.fromisoformat(first["timestamp"])
    assert stamp.tzinfo is not None
    assert abs((datetime.datetime.now(datetime.UTC) - stamp).total_seconds()) < 60
    assert events[-1]["target"] == 4.0 and events[-1]["attributions"] == {"trip_distance": 0.8}
    assert (monitor.sent, monitor.dropped, monitor.spooled, monitor.queue_depth) == (26, 0, 0, 0)


def test_token_goes_in_the_authorization_header(ingest, make_monitor, tmp_path):
    with_token = make_monitor(ingest.url, token="s3cret")
    with_token.log({"x": 1}, 0)
    assert with_token.flush(timeout=30.0)
    without = make_monitor(ingest.url, spool_path=tmp_path / "other.jsonl")
    without.log({"x": 1}, 0)
    assert without.flush(timeout=30.0)

    first, second = ingest.requests
    assert first["headers"]["Authorization"] == "Bearer s3cret"
    assert "Authorization" not in second["headers"]


def test_targets_go_to_their_own_endpoint(ingest, make_monitor):
    monitor = make_monitor(ingest.url)
    ride = monitor.log({"x": 1}, 10.0)
    monitor.log_target(ride, 12.0)
    assert monitor.flush(timeout=30.0)
    assert ingest.items("targets") == [{"id": ride, "target": 12.0}]
    assert [r["path"] for r in ingest.requests][-1] == "/v1/models/taxi/targets"


def test_down_service_spools_then_replays_every_event_exactly_once(ingest, make_monitor, tmp_path):
    ingest.stop()
    monitor = make_monitor(ingest.url)
    started = time.perf_counter()
    ids = [monitor.log({"x": i}, i) for i in range(200)]
    elapsed = time.perf_counter() - started
    deadline = time.monotonic() + 30
    while monitor.spooled < 200 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert monitor.spooled == 200, "the sender should move what it cannot send to the spool"
    lines = (tmp_path / "spool.jsonl").read_text().splitlines()
    assert sum(len(json.loads(line)["items"]) for line in lines) == 200
    assert elapsed < 5.0  # generous for a busy machine: logging must not wait for the network at all

    ingest.start()  # same port
    assert monitor.flush(timeout=30.0)
    received = [event["id"] for event in ingest.items()]
    assert sorted(received) == sorted(ids), "every event arrives, none twice"
    assert received == ids, "replayed oldest first"
    assert (monitor.sent, monitor.spooled, monitor.dropped) == (200, 0, 0)
    assert (tmp_path / "spool.jsonl").read_text() == ""


def test_spool_left_by_a_stopped_service_is_replayed_by_the_next_one(ingest, make_monitor):
    ingest.stop()
    before = make_monitor(ingest.url)
    ids = [before.log({"x": i}, i) for i in range(30)]
    assert before.close(timeout=30.0)
    assert before.spooled == 30

    ingest.start()
    after = make_monitor(ingest.url)
    assert after.flush(timeout=30.0)
    assert sorted(event["id"] for event in ingest.items()) == sorted(ids)
    assert after.sent == 30


def test_full_queue_drops_and_counts_without_blocking(ingest, make_monitor):
    ingest.gate = threading.Event()  # the service hangs: the sender is stuck in its first request
    monitor = make_monitor(ingest.url, queue_size=10, batch_size=5, timeout=30.0)
    monitor.log({"x": -1}, 0)
    deadline = time.monotonic() + 30
    while not ingest.requests and monitor.queue_depth and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.perf_counter()
    for i in range(100):
        monitor.log({"x": i}, i)
    elapsed = time.perf_counter() - started

    assert monitor.dropped >= 100 - 10 - 5
    assert monitor.queue_depth <= 10
    assert elapsed < 5.0  # far below the 30 s the sender waits for the hanging service
    ingest.gate.set()
    delivery = monitor.flush(timeout=30.0)
    assert delivery.finished and not delivery and delivery.dropped == monitor.dropped
    assert "is full" in delivery.reasons[0] and delivery.rejected == 0
    assert monitor.sent + monitor.dropped == 101


def test_refused_batch_is_dropped_and_not_retried(ingest, make_monitor, caplog):
    ingest.statuses = [422]
    monitor = make_monitor(ingest.url, flush_interval=0.5)  # one batch: flush() sends it at once
    with caplog.at_level(logging.WARNING, logger="modelmon.client"):
        for i in range(7):
            monitor.log({"x": i}, i)
        delivery = monitor.flush(timeout=30.0)
        assert delivery.finished and (delivery.rejected, delivery.sent) == (7, 0)
    # the next event goes in the next request: a retry of the refused batch would come before it or with it
    later = monitor.log({"x": 7}, 7)
    assert monitor.flush(timeout=30.0)
    assert [[event["id"] for event in request["body"]["events"]] for request in ingest.requests][1:] == [
        [later]
    ]
    assert (monitor.dropped, monitor.sent, monitor.spooled) == (7, 1, 0)
    assert "expected a number" in caplog.text and "will not be retried" in caplog.text


def test_server_errors_and_401_are_retried_until_accepted(ingest, make_monitor):
    ingest.statuses = [503, 401, 500]
    monitor = make_monitor(ingest.url, flush_interval=0.5)  # one batch: flush() sends it at once
    ids = [monitor.log({"x": i}, i) for i in range(5)]
    assert monitor.flush(timeout=30.0)
    assert [event["id"] for event in ingest.items()] == ids
    assert (monitor.sent, monitor.dropped) == (5, 0)
    assert len(ingest.requests) == 4


def test_rejected_events_in_an_accepted_batch_count_as_dropped(ingest, make_monitor, caplog):
    ingest.reject = {1}
    monitor = make_monitor(ingest.url)
    with caplog.at_level(logging.WARNING, logger="modelmon.client"):
        for i in range(4):
            monitor.log({"x": i}, i)
        delivery = monitor.flush(timeout=30.0)
    assert (monitor.sent, monitor.dropped, monitor.rejected) == (3, 1, 1)
    assert "item 1: prediction: missing" in caplog.text
    assert not delivery and (delivery.sent, delivery.rejected) == (3, 1)
    assert "item 1: prediction: missing" in delivery.reasons[0]


def test_flush_and_close_say_that_every_event_was_refused_and_the_counter_shows_it(ingest, make_monitor):
    from prometheus_client import CollectorRegistry

    from modelmon.client import register_monitor

    ingest.reject = set(range(269))  # the service refuses every event of the batch (a wrong type)
    monitor = make_monitor(ingest.url, batch_size=300)
    registry = CollectorRegistry()
    register_monitor(monitor, registry)
    for i in range(269):
        monitor.log({"x": i}, i)
    delivery = monitor.flush(timeout=30.0)
    assert delivery.finished and not delivery
    assert (delivery.sent, delivery.rejected, delivery.dropped) == (0, 269, 269)
    assert "refused 269 of 269 events" in delivery.reasons[0]
    assert registry.get_sample_value("modelmon_client_rejected_events_total", {"model": monitor.model}) == 269
    ingest.reject = set()
    monitor.log({"x": 1}, 1)
    closed = monitor.close(timeout=10.0)  # counted afresh since the flush
    assert closed and (closed.sent, closed.rejected, closed.reasons) == (1, 0, ())


def test_values_are_converted_to_json_or_dropped_never_raised(ingest, make_monitor, caplog):
    monitor = make_monitor(ingest.url)
    when = datetime.datetime(2024, 5, 1, 8, 30, tzinfo=datetime.UTC)
    monitor.log(
        {"pickup": when, "fare": decimal.Decimal("9.5"), "tip": float("nan"), "zones": (1, 2)},
        float("inf"),
        id=42,
        timestamp=when,
    )
    with caplog.at_level(logging.WARNING, logger="modelmon.client"):
        monitor.log({"x": object()}, 1)  # cannot be written as JSON
        monitor.log(5, 1)  # not a mapping of features
        delivery = monitor.flush(timeout=30.0)
    assert delivery.finished and (delivery.sent, delivery.dropped, delivery.rejected) == (1, 2, 0)

    (event,) = ingest.items()
    assert event["id"] == "42" and event["timestamp"] == "2024-05-01T08:30:00+00:00"
    assert event["features"] == {
        "pickup": "2024-05-01T08:30:00+00:00",
        "fare": 9.5,
        "tip": None,
        "zones": [1, 2],
    }
    assert event["prediction"] is None
    assert monitor.dropped == 2
    assert "not JSON-serializable" in caplog.text


def test_numpy_values_are_converted():
    np = pytest.importorskip("numpy")
    from modelmon.client.encode import encode_event

    text = encode_event(
        {"id": "a", "features": {"x": np.float32(1.5), "k": np.int64(3)}, "prediction": np.arange(2)}
    )
    assert json.loads(text) == {"id": "a", "features": {"x": 1.5, "k": 3}, "prediction": [0, 1]}


def test_log_after_close_is_counted_as_dropped(ingest, make_monitor):
    monitor = make_monitor(ingest.url)
    assert monitor.close(timeout=30.0)
    monitor.log({"x": 1}, 0)
    monitor.log_target("a", 1)
    assert monitor.dropped == 2


def test_constructor_names_the_wrong_option():
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        Monitor("http://127.0.0.1:9", "m", batch_size=0)
    with pytest.raises(ValueError, match="url must start with http"):
        Monitor("127.0.0.1:9", "m")


def test_log_hot_path_is_measured(ingest, make_monitor, record_property):
    monitor = make_monitor(ingest.url, queue_size=100_000, flush_interval=0.5)
    features = {"trip_distance": 3.2, "PULocationID": "132", "fare_amount": 14.0}
    count = 20_000
    started = time.perf_counter()
    ids = {monitor.log(features, 17.5) for _ in range(count)}
    per_call = (time.perf_counter() - started) / count * 1e6
    record_property("log_microseconds_per_call", round(per_call, 2))
    assert len(ids) == count
    assert monitor.dropped == 0
    assert monitor.flush(timeout=30.0) and monitor.sent == count


_FORKING_SERVICE = """
import os, sys
from modelmon.client import Monitor

monitor = Monitor(sys.argv[1], "forked", spool_path=sys.argv[2], flush_interval=0.02)
monitor.log({"who": "before-fork"}, 0)
monitor.flush(5.0)
pid = os.fork()
who = "child" if pid == 0 else "parent"
monitor.log({"who": who}, 1)
delivered = bool(monitor.flush(5.0)) and bool(monitor.close(5.0))
if pid == 0:
    os._exit(0 if delivered else 1)
_, status = os.waitpid(pid, 0)
print(delivered, os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_worker_gets_its_own_sender_thread(ingest, tmp_path):
    command = [sys.executable, "-c", _FORKING_SERVICE, ingest.url, str(tmp_path / "spool.jsonl")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)
    assert result.stdout.split() == ["True", "0"], result.stderr
    assert sorted(event["features"]["who"] for event in ingest.items()) == ["before-fork", "child", "parent"]


def test_too_large_batch_is_split_in_halves(ingest, make_monitor):
    ingest.statuses = [413]
    monitor = make_monitor(ingest.url, flush_interval=0.5)  # one batch: flush() sends it at once
    ids = [monitor.log({"x": i}, i) for i in range(4)]
    assert monitor.flush(timeout=30.0)
    assert [event["id"] for event in ingest.items()] == ids
    assert [len(r["body"]["events"]) for r in ingest.requests] == [4, 2, 2]
    assert (monitor.sent, monitor.dropped) == (4, 0)


def test_default_spool_follows_the_environment(monkeypatch, tmp_path):
    from modelmon.client import default_spool_path

    monkeypatch.setenv("MODELMON_SPOOL_DIR", str(tmp_path))
    assert default_spool_path("taxi/v2") == tmp_path / "taxi_v2.jsonl"
    monitor = Monitor("http://127.0.0.1:9", "taxi/v2")
    assert monitor.spool_file == tmp_path / "taxi_v2.jsonl"
    assert monitor.close(timeout=30.0)
