"""instrument_flask: request counts by route and status, errors, histogram on /metrics, event latency."""

from __future__ import annotations

import pytest
from client_fake_ingest import FakeIngest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from modelmon.client import Monitor, current_latency_ms, instrument_flask

flask = pytest.importorskip("flask")


@pytest.fixture
def ingest():
    fake = FakeIngest().start()
    yield fake
    fake.stop()


@pytest.fixture
def service(ingest, tmp_path):
    monitor = Monitor(ingest.url, "taxi", flush_interval=0.02, spool_path=tmp_path / "spool.jsonl")
    app = flask.Flask("taxi-service")
    seen_latency = []

    @app.post("/predict")
    def predict():
        seen_latency.append(current_latency_ms())
        ride = flask.request.get_json()
        return {"id": monitor.log({"trip_distance": ride["trip_distance"]}, 12.5)}

    @app.get("/rides/<int:ride_id>")
    def ride(ride_id):
        return {"ride": ride_id}

    @app.get("/boom")
    def boom():
        raise RuntimeError("model file missing")

    registry = CollectorRegistry()
    instrument_flask(app, monitor, registry=registry)
    yield app, monitor, registry, seen_latency
    monitor.close(timeout=2.0)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_requests_errors_and_latency_are_exported(service, ingest):
    app, monitor, _, seen_latency = service
    client = app.test_client()
    assert client.post("/predict", json={"trip_distance": 3.2}).status_code == 200
    assert client.post("/predict", json={"trip_distance": 1.1}).status_code == 200
    assert client.get("/rides/7").status_code == 200
    assert client.get("/rides/8").status_code == 200
    assert client.get("/boom").status_code == 500
    assert client.get("/nowhere").status_code == 404

    page = client.get("/metrics")
    assert page.status_code == 200 and page.content_type.startswith("text/plain")
    samples = _samples(page.get_data(as_text=True))

    def count(endpoint: str, status: str) -> float | None:
        return samples.get(("modelmon_http_requests_total", (("endpoint", endpoint), ("status", status))))

    assert count("/predict", "200") == 2
    assert count("/rides/<int:ride_id>", "200") == 2, "labelled by rule, not by path"
    assert count("/boom", "500") == 1
    assert count("other", "404") == 1
    assert not any(labels and ("endpoint", "/metrics") in labels for _, labels in samples)
    inf_bucket = ("modelmon_http_request_duration_seconds_bucket", (("endpoint", "/predict"), ("le", "+Inf")))
    assert samples[inf_bucket] == 2
    low_bucket = (
        "modelmon_http_request_duration_seconds_bucket",
        (("endpoint", "/predict"), ("le", "0.001")),
    )
    assert low_bucket in samples
    assert samples[("modelmon_client_dropped_events_total", (("model", "taxi"),))] == 0

    assert monitor.flush(timeout=30.0)
    events = ingest.items()
    assert len(events) == 2
    assert all(event["latency_ms"] >= 0 for event in events)
    assert all(latency is not None and latency >= 0 for latency in seen_latency)
    assert current_latency_ms() is None, "no request in flight outside the app"


def test_exception_that_propagates_still_counts_as_500(service):
    app, _, registry, _ = service
    app.testing = True  # exceptions propagate to the test client instead of becoming a 500 page
    with pytest.raises(RuntimeError, match="model file missing"):
        app.test_client().get("/boom")
    assert (
        registry.get_sample_value("modelmon_http_requests_total", {"endpoint": "/boom", "status": "500"}) == 1
    )


def test_endpoints_outside_the_allowed_set_count_as_other():
    app = flask.Flask("bounded")

    @app.get("/a")
    def a():
        return "a"

    @app.get("/b")
    def b():
        return "b"

    registry = CollectorRegistry()
    instrument_flask(app, registry=registry, endpoints=["/a"])
    client = app.test_client()
    client.get("/a")
    client.get("/b")
    assert registry.get_sample_value("modelmon_http_requests_total", {"endpoint": "/a", "status": "200"}) == 1
    assert (
        registry.get_sample_value("modelmon_http_requests_total", {"endpoint": "other", "status": "200"}) == 1
    )
