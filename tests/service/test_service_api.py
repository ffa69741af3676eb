from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from modelmon.config import parse_config
from modelmon.service.app import create_app
from modelmon.service.runtime import MonitoringService
from modelmon.store import open_store


def _reference(rows: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"x": rng.normal(size=rows), "z": rng.normal(size=rows), "c": rng.choice(list("abc"), rows)}
    )
    frame["y"] = 2 * frame["x"] + rng.normal(size=rows) * 0.1
    frame["t"] = frame["y"] + rng.normal(size=rows) * 0.1
    return frame


def _config(**model):
    spec = {
        "task": "regression",
        "numerical": ["x", "z"],
        "categorical": ["c"],
        "prediction": "y",
        "target": "t",
        "id": "rid",
        "segments": ["c"],
        "window": {"rows": 1000},
        "refresh_seconds": 1,
    }
    spec.update(model)
    return parse_config({"models": {"m": spec}, "max_body_bytes": 200_000}, environ={})


@pytest.fixture
def service():
    svc = MonitoringService(_config(), store=open_store("memory://"), references={"m": _reference()})
    yield svc
    svc.close()


@pytest.fixture
def client(service):
    return TestClient(create_app(service, CollectorRegistry()))


def _events(rows: int, shift: float = 0.0, seed: int = 1, start: int = 0, category: str | None = None):
    rng = np.random.default_rng(seed)
    events = []
    for i in range(rows):
        x = float(rng.normal() + shift)
        events.append(
            {
                "id": str(start + i),
                "features": {"x": x, "z": float(rng.normal()), "c": category or str(rng.choice(list("abc")))},
                "prediction": 2 * x,
                "latency_ms": 4.0,
            }
        )
    return events


def test_drift_on_shifted_column_only(client, service):
    answer = client.post("/v1/models/m/events", json={"events": _events(800, shift=1.5)})
    assert answer.status_code == 200 and answer.json() == {"accepted": 800, "rejected": []}
    service.recompute("m")
    summary = client.get("/v1/models/m/summary").json()
    columns = summary["drift"]["columns"]
    assert columns["x"]["detected"] and not columns["z"]["detected"]
    assert columns["x"]["method"] == "wasserstein" and columns["x"]["p_value"] is None
    assert summary["current_rows"] == 800 and summary["service"]["events_total"] == 800


def test_control_traffic_flags_nothing(client, service):
    client.post("/v1/models/m/events", json={"events": _events(800, seed=7)})
    service.recompute("m")
    drift = client.get("/v1/models/m/summary").json()["drift"]
    assert not drift["dataset_drift"]
    assert not [name for name, column in drift["columns"].items() if column["detected"]]


def test_late_targets_give_performance(client, service):
    client.post("/v1/models/m/events", json={"events": _events(400)})
    service.recompute("m")
    answer = client.post(
        "/v1/models/m/targets", json={"targets": [{"id": str(i), "target": 0.0} for i in range(300)]}
    )
    assert answer.json() == {"accepted": 300, "rejected": []}
    service.recompute("m")
    summary = client.get("/v1/models/m/summary").json()
    assert summary["labelled_rows"] == 300
    performance = summary["performance"]
    assert performance["applicable"] is True
    assert performance["current"]["mae"] > 1.0  # target 0 against predictions 2x: large errors


def test_a_batch_keeps_valid_events_and_names_the_bad_ones(client):
    events = [*_events(2), {"features": {"x": 1.0}}, {"features": "nope", "prediction": 1}]
    body = client.post("/v1/models/m/events", json={"events": events}).json()
    assert body["accepted"] == 2
    assert [item["index"] for item in body["rejected"]] == [2, 3]
    assert "prediction" in body["rejected"][0]["error"] and "features" in body["rejected"][1]["error"]


def test_a_feature_with_a_reserved_name_is_rejected_and_the_rest_of_the_batch_is_stored(client, service):
    # the store refuses such an event; rejected at ingest, it cannot hold up the writes of its batch
    events = [*_events(2), {"features": {"x": 1.0, "target": 2.0}, "prediction": 1.0}]
    body = client.post("/v1/models/m/events", json={"events": events}).json()
    assert body["accepted"] == 2
    assert [item["index"] for item in body["rejected"]] == [2]
    assert "reserved" in body["rejected"][0]["error"]
    assert service.persister.flush(5.0)
    assert service.store.events.count("m") == 2


def test_error_statuses(client):
    assert client.post("/v1/models/nope/events", json={}).status_code == 404
    assert "unknown model" in client.post("/v1/models/nope/events", json={}).json()["error"]
    assert client.post("/v1/models/m/events", content=b"{not json").status_code == 400
    assert client.post("/v1/models/m/events", json={"events": [{"prediction": 1}]}).status_code == 422
    assert client.post("/v1/models/m/events", content=b"x" * 300_000).status_code == 413


def test_token_is_required_when_configured():
    config = _config()
    config = type(config)(**{**config.__dict__, "auth_token": "s3cret"})
    service = MonitoringService(config, store=open_store("memory://"), references={"m": _reference()})
    try:
        client = TestClient(create_app(service, CollectorRegistry()))
        assert client.post("/v1/models/m/events", json={"events": _events(1)}).status_code == 401
        bad = client.post(
            "/v1/models/m/events", json={"events": _events(1)}, headers={"Authorization": "Bearer x"}
        )
        assert bad.status_code == 401
        good = client.post(
            "/v1/models/m/events", json={"events": _events(1)}, headers={"Authorization": "Bearer s3cret"}
        )
        assert good.status_code == 200
    finally:
        service.close()


def test_iterate_maps_flat_records(client, service):
    # 700 rows: the wasserstein test gives no verdict below 600 (quiet warm-up)
    records = [{"x": 5.0 + i / 100, "z": 0.1, "c": "a", "y": 1.0, "rid": f"r{i}"} for i in range(700)]
    assert client.post("/iterate/m", json=records).json()["accepted"] == 700
    service.recompute("m")
    assert client.get("/v1/models/m/summary").json()["drift"]["columns"]["x"]["detected"]


def test_metrics_exposes_design_series(client, service):
    client.post("/v1/models/m/events", json={"events": _events(700, shift=2.0)})
    client.post("/v1/models/m/targets", json={"targets": [{"id": str(i), "target": 1.0} for i in range(200)]})
    service.recompute("m")
    service.recompute("m")
    text = client.get("/metrics").text
    for series in (
        'modelmon_events_total{model="m"} 700.0',
        'modelmon_targets_total{model="m"} 200.0',
        'modelmon_window_rows{model="m"} 700.0',
        'modelmon_drift_detected{column="x",model="m"} 1.0',
        'modelmon_drift_detected{column="z",model="m"} 0.0',
        'modelmon_dataset_drift{model="m"}',
        'modelmon_drifted_columns_share{model="m"}',
        'modelmon_missing_share{column="x",model="m"} 0.0',
        'modelmon_prediction_latency_seconds_bucket{le="0.005",model="m"} 700.0',
        'modelmon_model_metric{metric="mae",model="m",segment="all"}',
        'modelmon_model_metric{metric="mae",model="m",segment="c=a"}',
    ):
        assert series in text, series
    assert 'modelmon_drift_score{column="x",method="wasserstein",model="m"}' in text


def test_the_p_value_is_its_own_series_and_help_says_which_number_is_which():
    config = _config(drift={"columns": {"x": {"method": "ks"}}})
    service = MonitoringService(config, store=open_store("memory://"), references={"m": _reference()})
    try:
        client = TestClient(create_app(service, CollectorRegistry()))
        client.post("/v1/models/m/events", json={"events": _events(700, shift=2.0)})
        service.recompute("m")
        text = client.get("/metrics").text
        x = service.monitors["m"].latest["drift"]["columns"]["x"]
    finally:
        service.close()
    assert x["method"] == "ks" and x["p_value"] < 0.05 and x["score"] > 0.5  # the score is KS D
    p_value = float(text.split('modelmon_drift_p_value{column="x",method="ks",model="m"} ')[1].split()[0])
    assert p_value == pytest.approx(x["p_value"])
    assert 'modelmon_drift_p_value{column="z",method="wasserstein"' not in text  # a distance has none
    assert "# HELP modelmon_drift_score Drift statistic of a column" in text and "Never a p-value" in text
    assert "# HELP modelmon_drift_threshold What decides a column's drift: the significance level" in text


def test_metrics_have_the_process_and_python_collectors(service):
    text = TestClient(create_app(service)).get("/metrics").text
    for family in ("process_cpu_seconds_total", "process_resident_memory_bytes", "python_info", "python_gc_"):
        assert f"\n{family}" in text, family


def test_history_and_health(client, service):
    client.post("/v1/models/m/events", json={"events": _events(100)})
    service.recompute("m")
    assert service.history.flush()
    history = client.get("/v1/models/m/history").json()["history"]
    assert history["window_rows"][-1][1] == 100.0
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["models"] == ["m"]
    assert "<title>modelmon</title>" in client.get("/").text


def test_events_are_persisted_off_the_request_path(client, service):
    client.post("/v1/models/m/events", json={"events": _events(50)})
    client.post("/v1/models/m/targets", json={"targets": [{"id": "3", "target": 9.5}]})
    assert service.persister.flush(10)
    frames = list(service.store.events.read_frames("m"))
    stored = pd.concat(frames)
    assert len(stored) == 50
    assert stored.set_index("id").loc["3", "target"] == 9.5


def test_attributions_sent_with_events_are_exported(client, service):
    events = _events(200)
    for event in events:
        event["attributions"] = {"x": 2 * event["features"]["x"], "z": 0.5}
    client.post("/v1/models/m/events", json={"events": events})
    service.recompute("m")
    summary = client.get("/v1/models/m/summary").json()
    expected = np.mean([abs(event["attributions"]["x"]) for event in events])
    assert summary["explain"]["current"]["x"] == pytest.approx(expected)
    text = client.get("/metrics").text
    assert 'modelmon_feature_attribution{feature="z",model="m"} 0.5' in text


def _targets(events, offset: float, seed: int):
    rng = np.random.default_rng(seed)
    return [{"id": e["id"], "target": e["prediction"] + offset + 0.1 * rng.normal()} for e in events]


def test_concept_drift_detected_online_when_errors_jump(client, service):
    events = _events(900, seed=3)
    client.post("/v1/models/m/events", json={"events": events})
    service.recompute("m")
    client.post("/v1/models/m/targets", json={"targets": _targets(events[:450], 0.0, 1)})
    service.recompute("m")
    assert not client.get("/v1/models/m/summary").json()["concept"]["detected"]
    client.post("/v1/models/m/targets", json={"targets": _targets(events[450:], 2.0, 2)})
    service.recompute("m")
    concept = client.get("/v1/models/m/summary").json()["concept"]
    assert concept["detected"] and concept["labelled_rows_seen"] == 900
    assert min(min(d["detections"] or [10**9]) for d in concept["detectors"].values()) > 450
    metrics = client.get("/metrics").text
    assert 'modelmon_concept_drift_detected{detector="page_hinkley",model="m"} 1.0' in metrics
