"""How many Prometheus series a model exports: bounded by its schema, whatever the traffic.

The bound is the one stated in docs/guarantees.md (the demo taxi model: at most 262 series).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from modelmon.config import parse_config
from modelmon.engine.buckets import TOP_VALUES
from modelmon.sections import REGISTRY
from modelmon.service.app import create_app
from modelmon.service.events import REJECT_REASONS
from modelmon.service.model_monitor import LATENCY_BUCKETS
from modelmon.service.runtime import MonitoringService
from modelmon.store import open_store

#: regression metrics of the performance section (mae, rmse, mean error, r2, mape) and the two
#: estimated without labels
REGRESSION_METRICS, ESTIMATED_METRICS = 5, 2
#: the concept section's detectors and its error band
CONCEPT_SERIES = 3
#: events, duplicates, targets, unexpected features, window rows, dataset drift, drifted share,
#: outlier share
ONE_PER_MODEL = 8
REFUSED_REASONS = ("backlog_full", "journal_failing", "journal_slow")


def series_bound(columns: int, numerical: int, categorical: int, segment_buckets: int) -> int:
    """The most series one model exports (no sensitive attributes, embeddings or attributions)."""
    return (
        ONE_PER_MODEL
        + len(LATENCY_BUCKETS)
        + 3  # the histogram's buckets, +Inf, count and sum
        + CONCEPT_SERIES
        + 6 * columns  # drift score, threshold, detected, insufficient data; missing, type errors
        + numerical  # out of range
        + categorical  # new categories
        + REGRESSION_METRICS * (2 + segment_buckets)  # window, reference, each segment bucket
        + ESTIMATED_METRICS
        + segment_buckets  # drifted share within each segment
        + len(REJECT_REASONS)
        + len(REFUSED_REASONS)
        + sum(1 for section in REGISTRY if section.online)
        + 1  # section errors (the online sections and concept)
    )


def _reference(rows: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    zones = [f"z{i}" for i in range(30)]
    frame = pd.DataFrame(
        {"x": rng.normal(size=rows), "z": rng.normal(size=rows), "c": rng.choice(zones, rows)}
    )
    frame["y"] = 2 * frame["x"] + rng.normal(size=rows) * 0.1
    frame["t"] = frame["y"] + rng.normal(size=rows) * 0.1
    return frame


def _events(rows: int, start: int, zones: list[str]) -> list[dict[str, object]]:
    rng = np.random.default_rng(start)
    events = []
    for i in range(rows):
        x = float(rng.normal())
        events.append(
            {
                "id": f"e{start + i}",
                "features": {"x": x, "z": float(rng.normal()), "c": str(rng.choice(zones))},
                "prediction": 2 * x,
                "target": 2 * x + float(rng.normal()) * 0.1,
                "latency_ms": float(rng.exponential(20)),
            }
        )
    return events


def _per_model(text: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            for model in ("m0", "m1", "m2"):
                if f'model="{model}"' in line:
                    counts[model] += 1
    return counts


@pytest.mark.slow
def test_each_model_exports_a_bounded_number_of_series_whatever_it_is_sent(tmp_path):
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
    config = parse_config({"models": {f"m{i}": spec for i in range(3)}}, base=tmp_path, environ={})
    service = MonitoringService(config, store=open_store("memory://"))
    try:
        client = TestClient(create_app(service, CollectorRegistry()))
        known = [f"z{i}" for i in range(30)]
        for model in ("m0", "m1"):
            assert (
                client.post(
                    f"/v1/models/{model}/events", json={"events": _events(1500, 0, known)}
                ).status_code
                == 200
            )
        service.recompute_all()
        before = _per_model(client.get("/metrics").text)
        assert before["m0"] == before["m1"]  # copies of one model export the same series
        # the segment column's buckets: its top reference values, "other" and "missing"
        bound = series_bound(columns=5, numerical=4, categorical=1, segment_buckets=TOP_VALUES + 2)
        assert before["m0"] <= bound, (before, bound)
        # new categories by the hundred, unknown features, bad events: no new series but the
        # fixed reasons of the rejected
        hostile = _events(1000, 5000, [f"new-{i}" for i in range(500)])
        for i, event in enumerate(hostile[:300]):
            event["features"][f"extra{i}"] = 1.0  # type: ignore[index]
        bad = [{"id": "b1", "features": {"x": "NaN?"}, "prediction": [1]}, {"features": 3}, "junk"]
        answer = client.post("/v1/models/m0/events", json={"events": hostile + bad})
        assert answer.status_code == 200 and len(answer.json()["rejected"]) == 3
        service.recompute_all()
        text = client.get("/metrics").text
        after = _per_model(text)
        rejected = sum(
            1
            for line in text.splitlines()
            if line.startswith("modelmon_events_rejected_total{") and 'model="m0"' in line
        )
        assert 1 <= rejected <= len(REJECT_REASONS)
        assert before["m0"] <= after["m0"] <= before["m0"] + rejected
        assert after["m0"] <= bound
        assert "new-" not in text and "extra" not in text
    finally:
        service.close()
