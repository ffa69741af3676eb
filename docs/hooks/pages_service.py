"""The HTTP API and Prometheus pages, read from a live monitoring service at build time.

A monitoring service for the two demo models runs in this process (memory store, a token
configured), takes a drifted batch of events and late targets for each, recomputes its windows
and is asked for ``/openapi.json`` and ``/metrics``. An instrumented prediction service's own
series come from ``modelmon.client``'s registry the same way. The alert rules are read from the
generated rule files.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from modelmon.client import Monitor
from modelmon.client.metrics import http_metrics, register_monitor
from modelmon.config import parse_config
from modelmon.demo import files, incidents
from modelmon.demo.data import credit_applications, taxi_trips
from modelmon.service.app import create_app
from modelmon.service.runtime import MonitoringService
from modelmon.store import open_store

TOKEN = "documentation-token-0123456789"


@dataclass(frozen=True)
class Family:
    """A metric family as a scrape shows it."""

    name: str
    type: str
    help: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Observed:
    openapi: dict[str, Any]
    #: the monitoring service's families, then the instrumented prediction service's
    metrics: tuple[list[Family], list[Family]]


def _events(frame: Any, model: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows = json.loads(frame.to_json(orient="records", date_format="iso"))
    features = [*model["numerical"], *model["categorical"], *model.get("sensitive", [])]
    events, targets = [], []
    for row in rows:
        event = {
            "id": str(row[model["id"]]),
            "timestamp": row[model["timestamp"]],
            "features": {name: row[name] for name in features},
            "prediction": row[model["prediction"]],
            "latency_ms": 12.5,
            # attributions sent with events: the window then exports them
            "attributions": {name: 0.1 for name in model["numerical"][:2]},
        }
        if model.get("probabilities"):
            event["probabilities"] = row[model["probabilities"][0]]
        events.append(event)
        targets.append({"id": event["id"], "target": row[model["target"]]})
    return events, targets


def _prediction_service_metrics() -> list[Family]:
    registry = CollectorRegistry()
    # nothing listens on port 9: the event waits in the spool, and the client says so at WARNING
    client_log = logging.getLogger("modelmon.client")
    level = client_log.level
    client_log.setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as folder:
        monitor = Monitor("http://127.0.0.1:9", "taxi-duration", spool_path=Path(folder) / "spool.jsonl")
        register_monitor(monitor, registry)
        http_metrics(registry).record("/predict", 200, 0.012)
        monitor.log({"trip_distance": 1.0}, 7.0)
        monitor.close(timeout=5)
    client_log.setLevel(level)
    return families(registry)


def observe_service() -> Observed:
    """Run the service on the demo models, send it traffic, and read its documents."""
    demo = files.demo_config()
    models = {}
    for name, spec in demo["models"].items():
        models[name] = {key: value for key, value in spec.items() if key not in ("reference", "model_file")}
        models[name]["health_url"] = "http://127.0.0.1:9/health"  # nothing listens: the probe says down
    # an embedding set, so that its series show too (three numerical features seen as one space)
    models["credit-approval"]["embeddings"] = {"applicant": ["age", "income", "debt_ratio"]}
    config = parse_config({"models": models, "auth_token": TOKEN}, environ={})
    generators = {
        "taxi-duration": (taxi_trips, "trip_distance"),
        "credit-approval": (credit_applications, "income"),
    }
    references = {name: generate(3000, seed=0) for name, (generate, _) in generators.items()}
    service = MonitoringService(config, store=open_store("memory://"), references=references)
    try:
        registry = CollectorRegistry()
        client = TestClient(create_app(service, registry))
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        for name, (generate, shifted) in generators.items():
            current = incidents.covariate_shift(generate(1500, seed=1), shifted, at=500)
            events, targets = _events(current, models[name])
            for path, body in [("events", {"events": events}), ("targets", {"targets": targets})]:
                answer = client.post(f"/v1/models/{name}/{path}", json=body)
                if answer.status_code != 200:
                    raise RuntimeError(f"the service refused the demo {path} of {name}: {answer.text}")
            service.recompute(name)
        service.prober.probe_all()
        openapi = client.get("/openapi.json").json()
        scraped = client.get("/metrics").text
        # the models' section series are rendered at each recompute and joined to the registry's
        # at the scrape, so they are read from the scrape itself
        metrics = families(registry)
        known = {family.name for family in metrics}
        metrics += [family for family in scraped_families(scraped) if family.name not in known]
        missing = [family.name for family in metrics if family.name not in scraped]
        if missing:
            raise RuntimeError(f"families of the registry that /metrics did not show: {missing}")
    finally:
        service.close()
    return Observed(openapi, (metrics, _prediction_service_metrics()))


def scraped_families(text: str) -> list[Family]:
    """Each ``modelmon_`` family of a scrape's text, with the labels its samples carry."""
    found = []
    for metric in text_string_to_metric_families(text):
        if not metric.name.startswith("modelmon_"):
            continue
        labels: list[str] = []
        for sample in metric.samples:
            labels += [label for label in sample.labels if label not in labels and label != "le"]
        name = f"{metric.name}_total" if metric.type == "counter" else metric.name
        found.append(Family(name, metric.type, metric.documentation, tuple(labels)))
    return found


def families(registry: CollectorRegistry) -> list[Family]:
    """Each ``modelmon_`` family a scrape of ``registry`` returns, with every label it can carry.

    A family without samples yet (no event refused so far) still declares its label names.
    """
    found = []
    for metric in registry.collect():
        if not metric.name.startswith("modelmon_"):
            continue
        labels = list(getattr(metric, "_labelnames", ()))
        for sample in metric.samples:
            labels += [label for label in sample.labels if label not in labels and label != "le"]
        name = f"{metric.name}_total" if metric.type == "counter" else metric.name
        found.append(Family(name, metric.type, metric.documentation, tuple(labels)))
    return found
