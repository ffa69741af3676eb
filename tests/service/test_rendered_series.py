"""/metrics writes each model's section series as rendered once per result: the same samples as
rendering them at every scrape, each family once, a model rendered again only when recomputed."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient
from test_collector_series import _events, _reference

from modelmon.config import parse_config
from modelmon.service.alerts.metrics import AlertCollector
from modelmon.service.app import create_app
from modelmon.service.collector import MonitorCollector
from modelmon.service.evidently_collector import EvidentlyCollector
from modelmon.service.runtime import MonitoringService
from modelmon.store import open_store

MODELS = ("m0", "m1", "m2")


def _service(tmp_path) -> MonitoringService:
    _reference().to_parquet(tmp_path / "reference.parquet")
    spec = {
        "task": "regression",
        "reference": "reference.parquet",
        "numerical": ["x", "z"],
        "categorical": ["c"],
        "prediction": "y",
        "target": "t",
        "id": "rid",
        "segments": ["c"],
        "window": {"rows": 2000},
    }
    config = parse_config({"models": dict.fromkeys(MODELS, spec)}, base=tmp_path, environ={})
    return MonitoringService(config, store=open_store("memory://"))


def _samples(text: str) -> tuple[set[tuple], list[str]]:
    """Every sample (name, labels, value) but the process's own and the clock-bound, and the family
    names in the order written."""
    families = list(text_string_to_metric_families(text))
    skipped = ("process_", "python_", "modelmon_store_lag", "modelmon_service_probe")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items())), sample.value)
        for family in families
        if not family.name.startswith(skipped)
        for sample in family.samples
    }
    return samples, [family.name for family in families]


def _rendered_every_scrape(service: MonitoringService) -> str:
    registry = CollectorRegistry()
    monitors = service.monitors.values
    registry.register(MonitorCollector(monitors, service.prober.results, service.health))
    registry.register(EvidentlyCollector(monitors))
    registry.register(AlertCollector(service.alerts))
    return generate_latest(registry).decode()


def test_metrics_has_the_samples_of_a_scrape_that_renders_everything(tmp_path):
    service = _service(tmp_path)
    try:
        client = TestClient(create_app(service, CollectorRegistry()))
        zones = [f"z{i}" for i in range(30)]
        for n, model in enumerate(MODELS[:2]):
            answer = client.post(f"/v1/models/{model}/events", json={"events": _events(800, 1000 * n, zones)})
            assert answer.status_code == 200
        service.recompute_all()
        served, order = _samples(client.get("/metrics").text)
        expected, _ = _samples(_rendered_every_scrape(service))
        assert served == expected
        assert len(order) == len(set(order)), "a metric family written twice"
        drift = {labels for name, labels, _ in served if name == "modelmon_drift_score"}
        assert {dict(labels)["model"] for labels in drift} == {"m0", "m1"}  # m2 has no events yet
    finally:
        service.close()


def test_a_model_is_rendered_again_only_when_its_result_is_new(tmp_path, monkeypatch):
    from modelmon.service import rendered_series

    service = _service(tmp_path)
    try:
        client = TestClient(create_app(service, CollectorRegistry()))
        service.recompute_all()
        client.get("/metrics")
        rendered: list[str] = []
        render = rendered_series._render

        def counted(model, result):
            rendered.append(model)
            return render(model, result)

        monkeypatch.setattr(rendered_series, "_render", counted)
        client.get("/metrics")
        assert rendered == []  # nothing new: every model's rendering is reused
        events = _events(500, 0, [f"z{i}" for i in range(30)])
        assert client.post("/v1/models/m1/events", json={"events": events}).status_code == 200
        for model in MODELS:
            service.refresh(model)  # only m1 has news, so only m1 is recomputed and rendered
        assert rendered == ["m1"]
        text = client.get("/metrics").text
        assert rendered == ["m1"]
        assert 'modelmon_window_rows{model="m1"} 500.0' in text
        assert 'modelmon_window_rows{model="m0"} 0.0' in text
    finally:
        service.close()
