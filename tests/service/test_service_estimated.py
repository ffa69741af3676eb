"""Regression performance estimated online (DLE) before any target arrives, as the batch engine does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from modelmon.config import parse_config
from modelmon.engine.dle import estimate_losses
from modelmon.service.app import create_app
from modelmon.service.runtime import MonitoringService
from modelmon.store import open_store


def _rows(rows: int, seed: int, low: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    load = rng.uniform(low, 1.0, rows)
    return pd.DataFrame(
        {"load": load, "pred": 3 * load, "y": 3 * load + rng.normal(0, 1, rows) * (0.2 + 2 * load)}
    )


def test_window_estimates_mae_and_rmse_without_targets_and_exports_them():
    model = {"task": "regression", "numerical": ["load"], "prediction": "pred", "target": "y", "id": "rid"}
    config = parse_config({"models": {"m": {**model, "window": {"rows": 2000}}}}, environ={})
    service = MonitoringService(config, store=open_store("memory://"), references={"m": _rows(4000, 0, 0.0)})
    try:
        client = TestClient(create_app(service, CollectorRegistry()))
        current = _rows(1500, 1, low=0.5)  # inputs where the model errs more; no targets sent
        events = [
            {"id": str(i), "features": {"load": row.load}, "prediction": row.pred}
            for i, row in enumerate(current.itertuples())
        ]
        assert client.post("/v1/models/m/events", json={"events": events}).status_code == 200
        service.recompute("m")
        performance = client.get("/v1/models/m/summary").json()["performance"]
        estimated = performance["estimated"]
        assert performance["applicable"] is False and estimated["method"] == "DLE"
        realized = float((current["y"] - current["pred"]).abs().mean())
        assert estimated["current"]["mae"] == pytest.approx(realized, rel=0.10)
        monitor = service.monitors["m"]
        batch = estimate_losses(monitor.spec.profile(current.drop(columns="y")).parts["dle"])
        assert estimated["current"]["mae"] == pytest.approx(batch["mae"], rel=1e-9)

        families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
        exported = {s.labels["metric"]: s.value for s in families["modelmon_estimated_metric"].samples}
        assert exported == pytest.approx(estimated["current"])
    finally:
        service.close()
