"""The course's own config.yaml, word for word in shape: one `taxi` dataset, data_drift only, a raw trip
file as the reference (no target, no prediction, an all-null column), a window of 5 rows."""

from __future__ import annotations

import yaml
from course_style import TAXI_FEATURES, course_records, taxi_rides, without_target
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from modelmon.config import load_config
from modelmon.service.app import create_app
from modelmon.service.runtime import MonitoringService
from modelmon.store import open_store

COURSE_CONFIG = {
    "datasets": {
        "taxi": {
            "column_mapping": dict(TAXI_FEATURES),
            "data_format": {"header": True, "separator": ","},
            "monitors": ["data_drift"],
            "reference_file": "./datasets/green_tripdata_2021-01.parquet",
        }
    },
    "service": {
        "calculation_period_sec": 2,
        "min_reference_size": 30,
        "moving_reference": False,
        "datasets_path": "datasets",
        "use_reference": True,
        "window_size": 5,
    },
}


def test_the_course_config_serves_the_course_prediction_services_records(tmp_path):
    (tmp_path / "datasets").mkdir()
    raw = taxi_rides(2000, seed=0).drop(columns=["duration", "model_duration"])
    raw.to_parquet(tmp_path / "datasets" / "green_tripdata_2021-01.parquet")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(COURSE_CONFIG))
    config = load_config(tmp_path / "config.yaml", environ={})
    service = MonitoringService(config, store=open_store("memory://"))
    try:
        client = TestClient(create_app(service, CollectorRegistry()))
        for record in course_records("taxi", 5):
            answer = client.post("/iterate/taxi", json=[without_target(record)])  # as the course's app.py
            assert (answer.status_code, answer.text) == (200, "ok")
        summary = service.recompute("taxi")
        assert summary["current_rows"] == 5
        families = {f.name: f.samples for f in text_string_to_metric_families(client.get("/metrics").text)}
        p_values = {s.labels["feature"]: s.value for s in families["evidently:data_drift:p_value"]}
        # the reference has neither target nor prediction: only the features are tested, as the old service
        assert sorted(p_values) == ["DOLocationID", "PULocationID", "trip_distance"]
        assert all(0 <= value <= 1 for value in p_values.values())
        assert [s.value for s in families["evidently:data_drift:dataset_drift"]] in ([0.0], [1.0])
        assert "evidently:regression_performance:quality" not in families  # not a configured monitor
    finally:
        service.close()
