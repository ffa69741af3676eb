"""The store writer never dies and never drops; the journal gives back what the store did not get;
back-pressure answers 503; bad data is data; labels stay bounded; windows come back after a restart."""

from __future__ import annotations

import json
import threading

import pytest
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient
from test_service_api import _config, _events, _reference

from modelmon.config import IngestSettings
from modelmon.errors import ServiceBusy, StoreError
from modelmon.service.app import create_app
from modelmon.service.journal import Journal, entry_line
from modelmon.service.persist import Persister
from modelmon.service.runtime import MonitoringService
from modelmon.store import open_store


def _deep(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels):
        value = {"a": value}
    return value


def _event(i: int, **fields):
    return {"id": f"e{i}", "features": {"x": float(i), "z": 0.0, "c": "a"}, "prediction": 1.0, **fields}


def test_an_item_the_store_cannot_take_goes_to_the_dead_letters_and_the_writer_goes_on(tmp_path):
    store = open_store("memory://")
    dead = tmp_path / "dead-letter.jsonl"
    persister = Persister(store, dead_letter=dead)
    try:
        poison = [_event(1, metadata=_deep(5000)), {"features": {"target": 1.0}, "prediction": 1.0}]
        persister.events("m", [_event(0), *poison, _event(2)])
        assert persister.flush(10)
        persister.events("m", [_event(3)])
        assert persister.flush(10)
        assert store.events.count("m") == 3 and persister.written == 3
        assert persister.dead_lettered == 2 and persister.alive
        lines = [json.loads(line) for line in dead.read_text().splitlines()]
        assert [line["kind"] for line in lines] == ["events", "events"]
        assert "RecursionError" in lines[0]["error"] and "reserved" in lines[1]["error"]
        assert lines[1]["item"]["features"] == {"target": 1.0}
    finally:
        persister.close()


class _Refusing:
    """A store whose event writes fail with a StoreError until ``heal`` is set."""

    def __init__(self) -> None:
        self.inner = open_store("memory://")
        self.heal = threading.Event()
        self.url = "memory://"

    def __getattr__(self, name):
        return getattr(self.inner, name)

    @property
    def events(self):
        outer = self

        class Events:
            def __getattr__(self, name):
                return getattr(outer.inner.events, name)

            def add_events(self, model, events):
                if not outer.heal.is_set():
                    raise StoreError("database is locked")
                return outer.inner.events.add_events(model, events)

        return Events()


def test_a_failing_store_keeps_the_batch_until_it_takes_it():
    store = _Refusing()
    persister = Persister(store, max_retry_delay=0.05)  # type: ignore[arg-type]
    try:
        persister.events("m", [_event(i) for i in range(10)])
        assert not persister.flush(0.5)
        assert persister.failing_since is not None and persister.failures >= 2
        assert persister.backlog == 10 and persister.dead_lettered == 0
        store.heal.set()
        assert persister.flush(5)
        assert store.inner.events.count("m") == 10 and persister.failing_since is None
    finally:
        persister.close()


def test_the_journal_gives_back_unsettled_batches_and_forgets_settled_segments(tmp_path):
    journal = Journal(tmp_path, segment_bytes=200).start()
    first = journal.append(entry_line("events", "m", [_event(0)]), 1).result(5)
    second = journal.append(entry_line("events", "m", [_event(1)]), 1).result(5)
    assert second == first + 1  # the first segment was full
    journal.settled(first, 1)
    assert not (tmp_path / f"segment-{first:06d}.jsonl").exists()
    journal.close()
    with (tmp_path / f"segment-{second:06d}.jsonl").open("ab") as file:
        file.write(b'{"kind": "events", "mod')  # a line cut short by a crash
    entries = Journal(tmp_path).recover()
    assert [(entry.segment, entry.items[0]["id"]) for entry in entries] == [(second, "e1")]


def _service(tmp_path, store_url: str | None = None, **ingest) -> MonitoringService:
    config = _config()
    config = type(config)(
        **{**config.__dict__, "ingest": IngestSettings(journal_dir=tmp_path / "j", **ingest)}
    )
    store = open_store(store_url or f"sqlite:///{tmp_path / 'store.db'}")
    return MonitoringService(config, store=store, references={"m": _reference()})


def test_accepted_events_are_in_the_journal_before_the_answer_and_replayed_after_a_crash(tmp_path):
    service = _service(tmp_path)
    service.persister._stop.set()  # the writer stops: as if the process died before storing
    service.persister.close(0)
    client = TestClient(create_app(service, CollectorRegistry()))
    assert client.post("/v1/models/m/events", json={"events": _events(30)}).json()["accepted"] == 30
    service.journal.close()
    assert service.store.events.count("m") == 0
    service.store.close()
    again = _service(tmp_path)
    try:
        assert again.persister.flush(10)
        assert again.store.events.count("m") == 30
        again.rebuild()
        assert again.recompute("m")["current_rows"] == 30  # stored once, in the window once
    finally:
        again.close()
    assert not list((tmp_path / "j").glob("segment-*.jsonl"))  # all stored: nothing left to replay


def test_beyond_the_backlog_ingest_answers_503_with_retry_after_and_counts_it(tmp_path):
    service = _service(tmp_path, store_url="memory://", max_backlog=100)
    original = service.store.events.add_events
    release = threading.Event()
    service.store.events.add_events = lambda model, events: release.wait(30) and original(model, events)
    try:
        client = TestClient(create_app(service, CollectorRegistry()))
        assert client.post("/v1/models/m/events", json={"events": _events(80)}).status_code == 200
        refused = client.post("/v1/models/m/events", json={"events": _events(40, start=100)})
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
        assert "behind" in refused.json()["error"] and refused.json()["reason"] == "backlog_full"
        metrics = client.get("/metrics").text
        assert 'modelmon_events_refused_total{model="m",reason="backlog_full"} 40.0' in metrics
        assert service.health()["refused"] == {"m": {"backlog_full": 40}}
        release.set()
        assert service.persister.flush(10)
        assert client.post("/v1/models/m/events", json={"events": _events(40, start=100)}).status_code == 200
    finally:
        release.set()
        service.close()


def test_deeply_nested_metadata_is_refused_with_its_limit(client, service):
    answer = client.post("/v1/models/m/events", json={"events": [_event(0, metadata=_deep(40)), _event(1)]})
    assert answer.status_code == 200 and answer.json()["accepted"] == 1
    assert "nested deeper than 32 levels" in answer.json()["rejected"][0]["error"]
    batch = service.ingest("m", [_event(0, metadata=_deep(40)), _event(1, metadata=_deep(30))])
    assert len(batch.rows) == 1
    assert "nested deeper than 32 levels" in batch.rejected[0]["error"]
    assert service.monitors["m"].counters.rejected == {"metadata": 2}


@pytest.fixture
def client(service):
    return TestClient(create_app(service, CollectorRegistry()))


@pytest.fixture
def service():
    svc = MonitoringService(_config(), store=open_store("memory://"), references={"m": _reference()})
    yield svc
    svc.close()


def test_missing_and_unknown_features_and_a_wrong_prediction_are_data(client, service):
    events = _events(300)
    for event in events:
        del event["features"]["z"]  # every event lacks z
    for event in events[:30]:
        event["features"]["colour"] = "red"
    for event in events[:10]:
        event["prediction"] = "fast"
    assert client.post("/v1/models/m/events", json={"events": events}).json()["accepted"] == 300
    first = service.recompute("m")
    quality = first["quality"]
    assert quality["columns"]["z"]["missing_share"] == 1.0
    assert quality["columns"]["y"]["type_errors"] == 10
    assert "colour" in quality["schema"]["unexpected_columns"]
    assert not service.monitors["m"].failing_sections(), service.monitors["m"].failing_sections()
    second = service.recompute("m")
    assert second["computed_at"] > first["computed_at"]
    assert 'modelmon_unexpected_features_total{model="m"} 30.0' in client.get("/metrics").text


def test_a_failing_section_fails_alone_and_is_counted(client, service, monkeypatch):
    import modelmon.service.model_monitor as model_monitor

    real = model_monitor.run_sections

    def failing(inputs, only=None):
        if only == ("outliers",):
            raise ValueError("outliers broke")
        return real(inputs, only=only)

    monkeypatch.setattr(model_monitor, "run_sections", failing)
    client.post("/v1/models/m/events", json={"events": _events(200)})
    result = service.recompute("m")
    assert result["outliers"] == {"applicable": False, "error": "ValueError: outliers broke"}
    assert "columns" in result["drift"] and result["current_rows"] == 200
    summary = client.get("/v1/models/m/summary").json()
    assert summary["outliers"]["error"] == "ValueError: outliers broke"
    assert 'modelmon_section_errors_total{model="m",section="outliers"} 1.0' in client.get("/metrics").text
    health = client.get("/health").json()
    assert health["status"] == "degraded"
    assert [reason["code"] for reason in health["reasons"]] == ["section_failing"]


@pytest.mark.slow
def test_distinct_unknown_keys_do_not_grow_the_metrics():
    config = _config()
    config = type(config)(**{**config.__dict__, "max_body_bytes": 20 * 2**20})
    service = MonitoringService(config, store=open_store("memory://"), references={"m": _reference()})
    client = TestClient(create_app(service, CollectorRegistry()))
    try:
        _unknown_keys(client, service)
    finally:
        service.close()


def _series(lines: list[str]) -> set[str]:
    """The series of an exposition (name and labels, without the value)."""
    return {line.rsplit(" ", 1)[0] for line in lines if line and not line.startswith("#")}


def _unknown_keys(client, service):
    # the window full of segment "a", as it is after the loop: every series the loop can touch is here
    unexpected = _event(1, features={"x": 1.0, "z": 0.0, "c": "a", "f": 1})
    baseline = [{"nope": 1, **_event(0)}, *_events(1000, start=1000, category="a"), unexpected]
    client.post("/v1/models/m/events", json={"events": baseline})
    service.recompute("m")
    before = client.get("/metrics").text.splitlines()
    for start in range(0, 100_000, 20_000):
        batch = [{f"key{i}": 1, **_event(i)} for i in range(start, start + 20_000)]
        batch += [
            _event(i, features={"x": 1.0, "z": 0.0, "c": "a", f"f{i}": 1}) for i in range(start, start + 50)
        ]
        assert client.post("/v1/models/m/events", json={"events": batch}).status_code == 200
    service.recompute("m")
    metrics = client.get("/metrics").text
    assert _series(metrics.splitlines()) <= _series(before)  # no new series
    assert 'modelmon_events_rejected_total{model="m",reason="unknown_keys"} 100001.0' in metrics


def test_a_restarted_service_rebuilds_its_window_from_the_store_before_it_reports(tmp_path):
    first = _service(tmp_path)
    first.ingest("m", _events(400))
    first.add_targets("m", [{"id": str(i), "target": 0.0} for i in range(200)])
    assert first.persister.flush(10)
    first.close()
    second = _service(tmp_path).start()
    try:
        for _ in range(200):
            if not second.warming and second.monitors["m"].latest is not None:
                break
            threading.Event().wait(0.05)
        assert second.health()["status"] == "ok"
        result = second.monitors["m"].latest
        assert result is not None and result["current_rows"] == 400 and result["labelled_rows"] == 200
        assert result["concept"]["labelled_rows_seen"] == 200  # the detectors saw the stored errors
    finally:
        second.close()


def test_service_busy_is_raised_without_http_too(tmp_path):
    service = _service(tmp_path, store_url="memory://", max_backlog=5)
    service.store.events.add_events = lambda model, events: threading.Event().wait(30)
    try:
        service.ingest("m", _events(5))
        with pytest.raises(ServiceBusy, match="behind"):
            service.ingest("m", _events(5, start=10))
    finally:
        service.persister._stop.set()
        service.journal.close()


def test_a_resent_batch_is_counted_once_in_the_window(client, service):
    events = _events(100)
    for _ in range(3):
        assert client.post("/v1/models/m/events", json={"events": events}).status_code == 200
    assert service.recompute("m")["current_rows"] == 100
    assert 'modelmon_events_duplicate_total{model="m"} 200.0' in client.get("/metrics").text
