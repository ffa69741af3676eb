"""The example prediction service: answers, input errors, metrics, events to monitoring, MongoDB."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import mongomock
import pytest
from prometheus_client import CollectorRegistry

from integration_support import free_port
from modelmon.demo import incidents, models
from modelmon.demo.data import credit_applications, taxi_trips
from modelmon.demo.files import write_demo_files
from modelmon.demo.service import ROUTES, MongoWriter, RowModel, close_app, create_app
from modelmon.demo.simulate import DATASETS, _records


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    write_demo_files(folder, rows=1500)
    return folder


def _body(dataset: str, seed: int = 5) -> dict[str, Any]:
    frame = taxi_trips(1, seed=seed) if dataset == "taxi" else credit_applications(1, seed=seed)
    row = frame.iloc[0]
    return {
        column: row[column].item() if hasattr(row[column], "item") else row[column]
        for column in DATASETS[dataset].sent
    }


class _FakeMonitoring(BaseHTTPRequestHandler):
    received: list[tuple[str, Any]]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.received.append((self.path, body))  # type: ignore[attr-defined]
        count = len(body.get("events", body.get("targets", [])))
        answer = json.dumps({"accepted": count, "rejected": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_monitoring() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeMonitoring)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def app(demo_dir: Path, tmp_path: Path) -> Iterator[Any]:
    # Nothing listens on port 9: events go to the spool, requests are answered anyway.
    app = create_app(demo_dir, "http://127.0.0.1:9", spool_dir=tmp_path, registry=CollectorRegistry())
    yield app
    close_app(app, timeout=2.0)


@pytest.mark.parametrize("dataset", ["taxi", "credit"])
def test_the_one_row_path_predicts_what_the_pipeline_predicts(demo_dir: Path, dataset: str) -> None:
    route = ROUTES[0] if dataset == "taxi" else ROUTES[1]
    frame = taxi_trips(200, seed=9) if dataset == "taxi" else credit_applications(200, seed=9)
    # junk the model must survive: missing values, text in numbers, categories it never saw
    numerical, categorical = route.numerical[0], route.categorical[0]
    frame = incidents.missing_spike(frame, [numerical, categorical], at=0, share=0.2)
    frame = incidents.type_errors(frame, route.numerical[1], at=0, share=0.2)
    frame = incidents.new_categories(frame, route.categorical[1], at=0, share=0.2)
    pipeline = models.load_model(demo_dir / route.model_file)
    model = RowModel(pipeline, route.numerical, route.categorical)
    assert model.fast
    rows = list(_records(frame, tuple(route.numerical + route.categorical)))
    if dataset == "taxi":
        expected = pipeline.predict(frame)
        got = [model.predict(row) for row in rows]
    else:
        expected = pipeline.predict_proba(frame)[:, 1]
        got = [model.predict_proba(row) for row in rows]
    assert got == pytest.approx(expected.tolist(), rel=1e-12)


def test_a_model_of_another_shape_is_served_through_its_own_pipeline(demo_dir: Path) -> None:
    pipeline = models.load_model(demo_dir / "taxi_model.pkl")
    model = RowModel(pipeline, ROUTES[0].numerical[::-1], ROUTES[0].categorical)  # columns in another order
    assert not model.fast
    row = _body("taxi")
    assert model.predict(row) == pytest.approx(pipeline.predict(taxi_trips(1, seed=5))[0])


def test_predict_taxi_answers_the_duration_the_ride_id_and_the_model_version(app: Any) -> None:
    body = _body("taxi")
    answer = app.test_client().post("/predict", json=body)
    assert answer.status_code == 200
    data = answer.get_json()
    assert data["ride_id"] == body["ride_id"]
    assert 1.0 < data["duration"] < 180.0
    assert data["model_version"].startswith("taxi_model-")


def test_predict_gives_an_id_when_the_request_has_none_and_accepts_missing_numbers(app: Any) -> None:
    body = _body("taxi") | {"fare_amount": None}
    del body["ride_id"]
    data = app.test_client().post("/predict", json=body).get_json()
    assert len(data["ride_id"]) == 32
    assert data["duration"] > 0


def test_junk_text_in_a_number_is_served_as_missing_and_logged_as_sent(app: Any) -> None:
    body = _body("taxi") | {"passenger_count": "n/a"}
    answer = app.test_client().post("/predict", json=body)
    assert answer.status_code == 200  # the monitor, not the service, reports type errors
    monitor = app.extensions["modelmon"]["monitors"]["/predict"]
    assert monitor.close(timeout=30.0)
    assert (monitor.spooled, monitor.dropped) == (1, 0)  # nothing listens: kept in the spool


def test_predict_credit_answers_an_approval_consistent_with_its_probability(app: Any) -> None:
    client = app.test_client()
    for seed in range(5):
        data = client.post("/predict/credit", json=_body("credit", seed)).get_json()
        assert 0.0 <= data["probability"] <= 1.0
        assert data["prediction"] == int(data["probability"] >= 0.5)
        assert data["application_id"].startswith("credit-")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"trip_distance": "drop"}, "trip_distance"),
        ({"PULocationID": [74, 75]}, "PULocationID"),
        ({"passenger_count": True}, "passenger_count"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(app: Any, change: dict[str, Any], field: str) -> None:
    body = _body("taxi")
    for name, value in change.items():
        if value == "drop":
            del body[name]
        else:
            body[name] = value
    answer = app.test_client().post("/predict", json=body)
    assert answer.status_code == 400
    assert repr(field) in answer.get_json()["error"]


def test_a_body_that_is_not_a_json_object_is_a_400(app: Any) -> None:
    client = app.test_client()
    answer = client.post("/predict", data="{not json", content_type="application/json")
    assert answer.status_code == 400
    assert "not valid JSON" in answer.get_json()["error"]
    answer = client.post("/predict/credit", json=[1, 2])
    assert answer.status_code == 400
    assert "JSON object" in answer.get_json()["error"]


def test_health_and_metrics_count_requests_by_endpoint_and_status(app: Any) -> None:
    client = app.test_client()
    client.post("/predict", json=_body("taxi"))
    client.post("/predict", json={})
    health = client.get("/health").get_json()
    assert health["status"] == "ok"
    assert set(health["models"]) == {"taxi-duration", "credit-approval"}
    page = client.get("/metrics").get_data(as_text=True)
    assert 'modelmon_http_requests_total{endpoint="/predict",status="200"} 1.0' in page
    assert 'modelmon_http_requests_total{endpoint="/predict",status="400"} 1.0' in page
    assert 'modelmon_http_request_duration_seconds_bucket{endpoint="/predict",le="+Inf"} 2.0' in page
    assert 'modelmon_client_queue_depth{model="credit-approval"}' in page


def test_events_reach_the_monitoring_service_with_the_model_names_of_the_config(
    demo_dir: Path, tmp_path: Path, fake_monitoring: ThreadingHTTPServer
) -> None:
    url = f"http://127.0.0.1:{fake_monitoring.server_address[1]}"
    app = create_app(demo_dir, url, spool_dir=tmp_path, registry=CollectorRegistry())
    client = app.test_client()
    taxi, credit = _body("taxi"), _body("credit")
    taxi_answer = client.post("/predict", json=taxi).get_json()
    credit_answer = client.post("/predict/credit", json=credit).get_json()
    close_app(app, timeout=5.0)
    received = dict(fake_monitoring.received)  # type: ignore[attr-defined]
    (taxi_event,) = received["/v1/models/taxi-duration/events"]["events"]
    (credit_event,) = received["/v1/models/credit-approval/events"]["events"]
    assert taxi_event["id"] == taxi["ride_id"]
    assert taxi_event["prediction"] == taxi_answer["duration"]
    assert taxi_event["features"]["trip_distance"] == taxi["trip_distance"]
    assert taxi_event["latency_ms"] > 0
    assert credit_event["probabilities"] == credit_answer["probability"]
    assert credit_event["features"]["gender"] == credit["gender"]  # sensitive: monitored, not a model input


def test_a_slow_or_dead_monitoring_service_does_not_delay_predictions(demo_dir: Path, tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        app = create_app(
            demo_dir,
            f"http://127.0.0.1:{silent.getsockname()[1]}",
            spool_dir=tmp_path,
            registry=CollectorRegistry(),
        )
        client = app.test_client()
        client.post("/predict", json=_body("taxi"))  # first call warms up the model
        start = time.perf_counter()
        for seed in range(10):
            assert client.post("/predict", json=_body("taxi", seed)).status_code == 200
        assert (time.perf_counter() - start) / 10 < 0.5
        close_app(app, timeout=0.5)


def test_documents_go_to_mongodb_in_the_background(demo_dir: Path, tmp_path: Path) -> None:
    collection = mongomock.MongoClient().modelmon.predictions
    writer = MongoWriter(lambda: collection)
    app = create_app(
        demo_dir, "http://127.0.0.1:9", mongo_writer=writer, spool_dir=tmp_path, registry=CollectorRegistry()
    )
    body = _body("credit")
    app.test_client().post("/predict/credit", json=body)
    close_app(app, timeout=2.0)
    (document,) = collection.find({}, {"_id": 0})
    assert document["model"] == "credit-approval"
    assert document["id"] == body["application_id"]
    assert document["in"]["income"] == body["income"]
    assert set(document["out"]) == {"prediction", "probability"}
    assert document["metadata"]["model_version"].startswith("credit_model-")
    assert writer.written == 1


def test_a_mongodb_that_fails_is_logged_and_counted_not_raised(
    demo_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def unreachable() -> Any:
        raise ConnectionError("mongodb://nowhere:27017 refused the connection")

    writer = MongoWriter(unreachable)
    app = create_app(
        demo_dir, "http://127.0.0.1:9", mongo_writer=writer, spool_dir=tmp_path, registry=CollectorRegistry()
    )
    assert app.test_client().post("/predict", json=_body("taxi")).status_code == 200
    close_app(app, timeout=2.0)
    assert (writer.written, writer.failed) == (0, 1)
    assert "refused the connection" in caplog.text


def test_a_data_dir_without_models_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="modelmon demo-data"):
        create_app(tmp_path, "http://127.0.0.1:9")


def test_events_and_features_are_accepted_by_the_real_monitoring_service(
    demo_dir: Path, tmp_path: Path
) -> None:
    import uvicorn

    from modelmon.config import load_config
    from modelmon.service.app import create_app as create_monitoring_app
    from modelmon.service.runtime import MonitoringService
    from modelmon.store import open_store

    service = MonitoringService(
        load_config(demo_dir / "modelmon.yml", environ={}), store=open_store("memory://")
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_monitoring_app(service, CollectorRegistry()),
            host="127.0.0.1",
            port=port,
            log_level="error",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        app = create_app(
            demo_dir, f"http://127.0.0.1:{port}", spool_dir=tmp_path, registry=CollectorRegistry()
        )
        client = app.test_client()
        for seed in range(3):
            assert client.post("/predict", json=_body("taxi", seed)).status_code == 200
            assert client.post("/predict/credit", json=_body("credit", seed)).status_code == 200
        monitors = app.extensions["modelmon"]["monitors"]
        assert all(monitor.flush(timeout=30.0) for monitor in monitors.values())
        close_app(app)
        for model in ("taxi-duration", "credit-approval"):
            counters = service.monitors[model].counters
            assert (counters.events, sum(counters.rejected.values())) == (3, 0), model
            assert service.recompute(model)["current_rows"] == 3
    finally:
        server.should_exit = True
        thread.join(10)
        service.close()


def test_an_unreachable_mongodb_uri_costs_requests_nothing(demo_dir: Path, tmp_path: Path) -> None:
    writer = MongoWriter.from_uri("mongodb://127.0.0.1:9/modelmon", timeout_ms=2000)  # nothing listens
    app = create_app(
        demo_dir, "http://127.0.0.1:9", mongo_writer=writer, spool_dir=tmp_path, registry=CollectorRegistry()
    )
    client = app.test_client()
    assert client.post("/predict", json=_body("taxi")).status_code == 200  # warms up the model
    start = time.perf_counter()
    for seed in range(3):
        assert client.post("/predict", json=_body("taxi", seed)).status_code == 200
    # 3 x 2 s if they waited for MongoDB: that is the writer's wait, not theirs
    assert time.perf_counter() - start < 2.0
    close_app(app, timeout=30.0)
    assert (writer.written, writer.failed) == (0, 4)
