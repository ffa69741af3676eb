"""Quiet warm-up: a window that is still filling reports insufficient_data, never chance drift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelmon.config import DriftSettings, Window, parse_config
from modelmon.engine.drift import data_drift
from modelmon.engine.profile import ProfileSpec
from modelmon.schema import Schema
from modelmon.service.collector import section_series
from modelmon.service.model_monitor import ModelMonitor
from modelmon.service.window import SlidingWindow

REFRESHES = 200
ROWS_PER_REFRESH = 25


def _frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"x": rng.normal(size=rows), "z": rng.exponential(size=rows), "c": rng.choice(list("abcdefgh"), rows)}
    )
    frame["y"] = 2 * frame["x"] + rng.normal(size=rows) * 0.1
    return frame


def _monitor(**drift) -> ModelMonitor:
    spec = {
        "task": "regression",
        "numerical": ["x", "z"],
        "categorical": ["c"],
        "prediction": "y",
        "window": {"rows": 1000},
        "drift": drift,
    }
    config = parse_config({"models": {"m": spec}}, environ={}).models["m"]
    return ModelMonitor(config, reference=_frame(5000, seed=0))


def _replay(monitor: ModelMonitor) -> tuple[int, int, int]:
    """(refreshes with dataset drift, refreshes exporting a dataset drift of 1, refreshes without verdict)."""
    stream = _frame(REFRESHES * ROWS_PER_REFRESH, seed=1)
    alarms = exported = warming = 0
    for refresh in range(REFRESHES):
        rows = stream.iloc[refresh * ROWS_PER_REFRESH : (refresh + 1) * ROWS_PER_REFRESH]
        events = [{"features": {"x": r.x, "z": r.z, "c": r.c}, "prediction": r.y} for r in rows.itertuples()]
        monitor.ingest(events)
        result = monitor.recompute(now=float(refresh))
        alarms += bool(result["drift"]["dataset_drift"])
        warming += bool(result["drift"]["insufficient_data"])
        series = {family.name: family.samples for family in section_series("m", result)}
        exported += any(sample.value == 1 for sample in series.get("modelmon_dataset_drift", []))
    return alarms, exported, warming


def _replay_window(settings: DriftSettings, seed: int = 1) -> tuple[int, int, int]:
    """The same replay through the service's sliding window and the drift section alone (fast)."""
    schema = Schema(numerical=["x", "z"], categorical=["c"], prediction="y")
    spec, reference = ProfileSpec.fit_profile(_frame(5000, seed=0), schema, parts=())
    window = SlidingWindow(spec, Window(rows=1000))
    stream = _frame(REFRESHES * ROWS_PER_REFRESH, seed=seed)
    alarms = exported = warming = 0
    for refresh in range(REFRESHES):
        window.add(stream.iloc[refresh * ROWS_PER_REFRESH : (refresh + 1) * ROWS_PER_REFRESH], now=refresh)
        drift = data_drift(reference, window.current(), settings).to_dict()
        alarms += bool(drift["dataset_drift"])
        warming += bool(drift["insufficient_data"])
        series = {family.name: family.samples for family in section_series("m", {"drift": drift})}
        exported += any(sample.value == 1 for sample in series.get("modelmon_dataset_drift", []))
    return alarms, exported, warming


@pytest.mark.slow
def test_a_stationary_stream_from_an_empty_window_raises_no_dataset_drift():
    alarms, exported, warming = _replay(_monitor())
    assert alarms == 0 and exported == 0
    # the wasserstein columns need 600 values: 23 refreshes of 25 rows without a verdict
    assert warming == 600 // ROWS_PER_REFRESH - 1


@pytest.mark.parametrize("seed", [0, 1])
def test_the_window_alone_raises_no_dataset_drift_while_filling(seed):
    alarms, exported, warming = _replay_window(DriftSettings(), seed=seed + 10)
    assert (alarms, exported, warming) == (0, 0, 600 // ROWS_PER_REFRESH - 1)


def test_without_the_warm_up_the_same_stream_pages_on_chance_drift():
    alarms, exported, warming = _replay_window(DriftSettings(min_rows=0))
    assert alarms > 0 and exported == alarms and warming == 0


def test_a_warming_window_exports_no_verdict_but_says_why():
    monitor = _monitor()
    rows = _frame(100, seed=3)
    monitor.ingest(
        [{"features": {"x": r.x, "z": r.z, "c": r.c}, "prediction": r.y} for r in rows.itertuples()]
    )
    result = monitor.recompute(now=0.0)
    drift = result["drift"]
    assert drift["dataset_drift"] is None and drift["insufficient_data"] and drift["min_rows"] == 600
    x = drift["columns"]["x"]
    assert x["detected"] is None and x["insufficient_data"] and x["score"] is not None
    assert "wasserstein needs 600" in x["note"]
    series = {family.name: family for family in section_series("m", result)}
    assert "modelmon_dataset_drift" not in series and "modelmon_drift_detected" not in series
    flags = {s.labels["column"]: s.value for s in series["modelmon_drift_insufficient_data"].samples}
    assert flags["x"] == 1.0 and flags["z"] == 1.0
