"""Embedding drift online: the window's sample against the reference's, exported to Prometheus."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelmon.config import parse_config
from modelmon.service.collector import section_series
from modelmon.service.model_monitor import ModelMonitor

COLUMNS = [f"e{i}" for i in range(4)]


def _frame(rows: int, correlation: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    first = rng.normal(size=(rows, 2))
    second = correlation * first + np.sqrt(1 - correlation**2) * rng.normal(size=(rows, 2))
    frame = pd.DataFrame(np.hstack([first, second]), columns=COLUMNS)
    frame["x"] = rng.normal(size=rows)
    frame["y"] = frame["x"] * 2
    return frame


@pytest.mark.slow
@pytest.mark.parametrize(("correlation", "drifted"), [(0.8, False), (-0.8, True)])
def test_the_window_tests_its_embedding_set_and_exports_the_verdict(correlation, drifted):
    spec = {
        "numerical": ["x"],
        "prediction": "y",
        "embeddings": {"text": COLUMNS},
        "drift": {"embeddings": {"text": {"method": "mmd"}}},
        "window": {"rows": 1000},
    }
    config = parse_config({"models": {"m": spec}}, environ={}).models["m"]
    monitor = ModelMonitor(config, reference=_frame(3000, 0.8, seed=0))
    current = _frame(1000, correlation, seed=1)
    monitor.ingest(
        [
            {"features": {c: row[c] for c in [*COLUMNS, "x"]}, "prediction": row["y"]}
            for _, row in current.iterrows()
        ]
    )
    drift = monitor.recompute(now=0.0)["drift"]
    assert "embeddings" in drift, drift.get("error")
    result = drift["embeddings"]["text"]
    assert result["method"] == "mmd" and result["detected"] is drifted and result["rows_current"] >= 300
    series = {family.name: family.samples for family in section_series("m", monitor.latest or {})}
    (sample,) = series["modelmon_embedding_drift_detected"]
    assert sample.labels == {"model": "m", "embedding": "text"} and sample.value == float(drifted)
