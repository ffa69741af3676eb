"""The monitoring service with an Evidently-style model: /iterate's answer, a reference without
predictions, and the old series next to the new ones."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from sklearn.linear_model import LinearRegression
from starlette.testclient import TestClient

from modelmon.config import parse_config
from modelmon.service.app import create_app
from modelmon.service.runtime import MonitoringService
from modelmon.store import open_store


def _reference(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    """Training data: features and the target, no prediction column."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"distance": rng.gamma(2, 2, rows), "zone": rng.choice(["a", "b", "c"], rows)})
    frame["duration"] = 3 * frame["distance"] + rng.normal(0, 1, rows)
    return frame


def _records(rows: int, seed: int = 1) -> list[dict]:
    frame = _reference(rows, seed)
    frame["prediction"] = 3 * frame["distance"]
    return frame.to_dict("records")


MODEL = {
    "numerical": ["distance"],
    "categorical": ["zone"],
    "prediction": "prediction",
    "target": "duration",
    "window": {"rows": 300},
}


def _service(tmp_path, **model) -> MonitoringService:
    models = {"old": {**MODEL, "compat": "evidently", **model}, "new": dict(MODEL)}
    config = parse_config({"models": models}, base=tmp_path, environ={})
    return MonitoringService(
        config, store=open_store("memory://"), references={"old": _reference(), "new": _reference()}
    )


@pytest.fixture
def service(tmp_path):
    svc = _service(tmp_path)
    yield svc
    svc.close()


@pytest.fixture
def client(service):
    return TestClient(create_app(service, CollectorRegistry()))


def _metrics(client) -> dict[str, list]:
    text = client.get("/metrics").text
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def test_iterate_answers_ok_as_the_old_service_and_counts_what_it_rejects(client, service):
    answer = client.post("/iterate/old", json=_records(5))
    assert answer.status_code == 200 and answer.text == "ok"
    # a record without the prediction column is kept, as the old service kept it
    assert client.post("/iterate/old", json=[{"distance": 1.0, "zone": "a"}]).text == "ok"
    answer = client.post("/iterate/old", json=[*_records(2), "not a record"])
    assert answer.status_code == 200 and answer.json()["accepted"] == 2
    assert answer.json()["rejected"][0]["index"] == 2
    assert client.post("/iterate/old", json=["bad"]).status_code == 422
    assert service.monitors["old"].counters.events == 8
    rejected = _metrics(client)["modelmon_events_rejected"]
    assert sum(sample.value for sample in rejected if sample.labels["model"] == "old") == 2
    assert client.get("/health").json()["rejected"]["old"] == 2
    # a model without compat: keeps modelmon's JSON answer
    assert client.post("/iterate/new", json=_records(3)).json() == {"accepted": 3, "rejected": []}


def test_a_reference_without_predictions_skips_prediction_drift_with_a_reason(client, service):
    assert client.post("/iterate/new", json=_records(300)).status_code == 200
    summary = service.recompute("new")
    note = "the reference has no prediction column 'prediction'"
    assert any(note in text for text in summary["drift"]["notes"])
    assert summary["drift"]["columns"]["prediction"]["p_value"] is None
    assert (
        summary["drift"]["columns"]["distance"]["p_value"] is not None
        or summary["drift"]["columns"]["distance"]["score"] is not None
    )
    performance = summary["performance"]
    assert any(note in text for text in performance["notes"])
    assert performance["current"]["mae"] == pytest.approx(
        np.mean(np.abs([r["prediction"] - r["duration"] for r in _records(300)])), rel=1e-9
    )
    assert performance["reference"]["mae"] is None


def test_a_classifier_reference_without_predictions_works_too(tmp_path):
    rng = np.random.default_rng(2)
    reference = pd.DataFrame({"x": rng.normal(size=400), "label": rng.choice([0, 1], 400)})
    model = {"task": "classification", "numerical": ["x"], "prediction": "guess", "target": "label"}
    config = parse_config({"models": {"c": {**model, "compat": "evidently"}}}, environ={})
    service = MonitoringService(config, store=open_store("memory://"), references={"c": reference})
    try:
        records = [
            {"x": float(x), "label": int(y), "guess": int(y)}
            for x, y in zip(rng.normal(size=200), rng.choice([0, 1], 200), strict=True)
        ]
        client = TestClient(create_app(service, CollectorRegistry()))
        assert client.post("/iterate/c", json=records).text == "ok"
        summary = service.recompute("c")
        assert summary["performance"]["current"]["accuracy"] == 1.0
        quality = _metrics(client)["evidently:classification_performance:quality"]
        assert {s.labels["metric"]: s.value for s in quality if s.labels["dataset"] == "current"}["f1"] == 1.0
    finally:
        service.close()


def test_with_a_model_file_the_reference_is_scored_and_the_summary_says_so(tmp_path):
    reference = _reference()
    model = LinearRegression().fit(reference[["distance"]], reference["duration"])
    joblib.dump(model, tmp_path / "model.joblib")
    spec = {**MODEL, "numerical": ["distance"], "categorical": [], "model_file": "model.joblib"}
    config = parse_config({"models": {"m": spec}}, base=tmp_path, environ={})
    service = MonitoringService(config, store=open_store("memory://"), references={"m": reference})
    try:
        service.ingest("m", [{"features": {"distance": 2.0}, "prediction": 6.0, "target": 6.5}] * 50)
        summary = service.recompute("m")
        assert any("scored with the model file" in note for note in summary["performance"]["notes"])
        expected = np.mean(np.abs(model.predict(reference[["distance"]]) - reference["duration"]))
        assert summary["performance"]["reference"]["mae"] == pytest.approx(expected, rel=1e-9)
    finally:
        service.close()


def test_the_old_series_are_exported_for_compat_models_only(client, service):
    for model in ("old", "new"):
        assert client.post(f"/iterate/{model}", json=_records(300)).status_code == 200
        service.recompute(model)
    families = _metrics(client)
    p_values = families["evidently:data_drift:p_value"]
    assert {sample.labels["dataset_name"] for sample in p_values} == {"old"}
    assert {sample.labels["feature"] for sample in p_values} == {"zone", "distance", "duration"}
    assert all(0 <= sample.value <= 1 for sample in p_values)
    hashes = families["evidently:reference_dataset_hash"]
    assert [(s.labels["dataset_name"], len(s.labels["hash"]), s.value) for s in hashes] == [("old", 64, 1.0)]
    names = set(families)
    assert {
        "evidently:data_drift:dataset_drift",
        "evidently:num_target_drift:drift",
        "evidently:regression_performance:quality",
        "evidently:regression_performance:feature_error_bias",
    } <= names
    assert "evidently:cat_target_drift:drift" not in names  # not a monitor of a regression model
    assert "modelmon_drift_score" in names  # the new series stay


def test_the_old_series_follow_each_recompute(client, service):
    def p_value() -> float:
        samples = _metrics(client)["evidently:data_drift:p_value"]
        return next(s.value for s in samples if s.labels["feature"] == "distance")

    client.post("/iterate/old", json=_records(300, seed=3))
    service.recompute("old")
    calm = p_value()
    shifted = [{**record, "distance": record["distance"] + 3} for record in _records(300, seed=4)]
    client.post("/iterate/old", json=shifted)
    service.recompute("old")
    assert calm > 0.01 and p_value() < 1e-6


def test_the_old_percentage_error_series_equal_numpy_on_the_posted_rows(client, service):
    """``mean_abs_perc_error`` and ``abs_perc_error_std`` as scraped, from the window's sums: equal
    (relative 1e-9) to numpy's mean and ddof=1 std of 100 |p - t| / |t| over the rows whose target is
    not 0."""
    records = _records(300, seed=5)
    for record in records[::25]:
        record["duration"] = 0.0
    assert client.post("/iterate/old", json=records).text == "ok"
    service.recompute("old")
    quality = {
        sample.labels["metric"]: sample.value
        for sample in _metrics(client)["evidently:regression_performance:quality"]
        if sample.labels["dataset"] == "current" and sample.labels["dataset_name"] == "old"
    }
    frame = pd.DataFrame(records)
    kept = frame[frame["duration"] != 0]
    assert len(kept) == 288
    percent = 100 * (kept["prediction"] - kept["duration"]).abs() / kept["duration"].abs()
    assert quality["mean_abs_perc_error"] == pytest.approx(percent.mean(), rel=1e-9)
    assert quality["abs_perc_error_std"] == pytest.approx(np.std(percent, ddof=1), rel=1e-9)


def test_monitors_of_none_still_answer_iterate_with_the_old_text(tmp_path):
    service = _service(tmp_path, compat={"evidently": []})
    try:
        client = TestClient(create_app(service, CollectorRegistry()))
        answer = client.post("/iterate/old", json=_records(5))
        assert answer.status_code == 200 and answer.text == "ok"
        assert client.post("/iterate/new", json=_records(3)).json() == {"accepted": 3, "rejected": []}
    finally:
        service.close()
