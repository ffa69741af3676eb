"""MonitorMiddleware on a Starlette app: request counts by route and status, errors, /metrics, latency."""

from __future__ import annotations

import warnings

import pytest
from client_fake_ingest import FakeIngest
from prometheus_client import CollectorRegistry

from modelmon.client import Monitor, MonitorMiddleware, current_latency_ms

pytest.importorskip("httpx")
starlette_applications = pytest.importorskip("starlette.applications")
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

with warnings.catch_warnings():
    # Starlette 1.x prefers the httpx2 fork for its TestClient and warns when it falls back to httpx.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient


@pytest.fixture
def ingest():
    fake = FakeIngest().start()
    yield fake
    fake.stop()


@pytest.fixture
def service(ingest, tmp_path):
    monitor = Monitor(ingest.url, "credit", flush_interval=0.02, spool_path=tmp_path / "spool.jsonl")
    seen_latency = []

    async def predict(request):
        seen_latency.append(current_latency_ms())
        applicant = await request.json()
        return JSONResponse({"id": monitor.log({"income": applicant["income"]}, 1, probabilities=0.8)})

    def applicant(request):  # a sync endpoint runs in a worker thread: the latency must follow it there
        seen_latency.append(current_latency_ms())
        return JSONResponse({"id": request.path_params["applicant_id"]})

    async def boom(request):
        raise RuntimeError("model file missing")

    routes = [
        Route("/predict", predict, methods=["POST"]),
        Route("/applicants/{applicant_id}", applicant),
        Route("/boom", boom),
    ]
    registry = CollectorRegistry()
    app = starlette_applications.Starlette(routes=routes)
    app.add_middleware(MonitorMiddleware, monitor=monitor, registry=registry)
    yield app, monitor, registry, seen_latency
    monitor.close(timeout=2.0)


def test_requests_errors_and_latency_are_exported(service, ingest):
    app, monitor, registry, seen_latency = service
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post("/predict", json={"income": 52_000}).status_code == 200
        assert client.get("/applicants/17").status_code == 200
        assert client.get("/applicants/18").status_code == 200
        assert client.get("/boom").status_code == 500
        assert client.get("/nowhere").status_code == 404
        page = client.get("/metrics")

    def count(endpoint: str, status: str) -> float | None:
        labels = {"endpoint": endpoint, "status": status}
        return registry.get_sample_value("modelmon_http_requests_total", labels)

    assert count("/predict", "200") == 1
    assert count("/applicants/{applicant_id}", "200") == 2, "labelled by route template, not by path"
    assert count("/boom", "500") == 1
    assert count("other", "404") == 1
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    assert 'modelmon_http_request_duration_seconds_bucket{endpoint="/predict",le="0.001"}' in page.text
    assert 'modelmon_client_queue_depth{model="credit"}' in page.text
    assert 'endpoint="/metrics"' not in page.text

    assert monitor.flush(timeout=30.0)
    (event,) = ingest.items()
    assert event["latency_ms"] >= 0 and event["probabilities"] == 0.8
    assert len(seen_latency) == 3 and all(latency is not None for latency in seen_latency)


def test_exception_that_escapes_counts_as_500():
    async def broken(scope, receive, send):
        raise RuntimeError("no model")

    registry = CollectorRegistry()
    client = TestClient(MonitorMiddleware(broken, registry=registry))  # no `with`: no lifespan events
    with pytest.raises(RuntimeError, match="no model"):
        client.get("/anything")
    assert (
        registry.get_sample_value("modelmon_http_requests_total", {"endpoint": "other", "status": "500"}) == 1
    )
