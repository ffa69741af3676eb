from __future__ import annotations

import numpy as np
import pandas as pd

from modelmon.config import parse_config
from modelmon.service.model_monitor import ModelMonitor


def _reference(rows: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"x": rng.normal(size=rows), "z": rng.normal(size=rows), "c": rng.choice(list("abc"), rows)}
    )
    frame["y"] = 2 * frame["x"] + rng.normal(size=rows) * 0.1
    frame["t"] = frame["y"] + rng.normal(size=rows) * 0.1
    return frame


def _monitor(window: dict[str, int]) -> ModelMonitor:
    spec = {
        "task": "regression",
        "numerical": ["x", "z"],
        "categorical": ["c"],
        "prediction": "y",
        "target": "t",
        "id": "rid",
        "segments": ["c"],
        "window": window,
    }
    config = parse_config({"models": {"m": spec}}, environ={}).model("m")
    return ModelMonitor(config, _reference())


def _events(rows: int, start: int = 0, seed: int = 1) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    return [
        {
            "id": str(start + i),
            "features": {"x": float(rng.normal()), "z": float(rng.normal()), "c": "a"},
            "prediction": float(rng.normal()),
        }
        for i in range(rows)
    ]


def test_a_model_without_new_events_is_not_recomputed():
    monitor = _monitor({"rows": 1000})
    assert monitor.refresh(now=1000.0)  # the first refresh always computes
    monitor.ingest(_events(200))
    assert monitor.refresh(now=1005.0)
    latest = monitor.latest
    assert latest is not None and latest["current_rows"] == 200
    assert not monitor.refresh(now=1010.0)
    assert not monitor.refresh(now=5000.0)
    assert monitor.latest is latest  # the same results, computed_at included
    assert latest["computed_at"].startswith("1970-01-01T00:16:45")
    monitor.ingest(_events(10, start=200))
    assert monitor.refresh(now=5005.0)
    assert monitor.latest is not latest and monitor.latest["current_rows"] == 210


def test_late_targets_and_unexpected_columns_are_news():
    monitor = _monitor({"rows": 1000})
    monitor.ingest(_events(50))
    assert monitor.refresh(now=0.0)
    monitor.add_targets([{"id": "3", "target": 1.0}])
    assert monitor.refresh(now=1.0)
    assert monitor.latest is not None and monitor.latest["labelled_rows"] == 1
    assert not monitor.refresh(now=2.0)
    monitor.ingest([{"id": "x", "features": {"x": 1.0, "z": 1.0, "c": "a", "w": 3}, "prediction": 1.0}])
    assert monitor.refresh(now=3.0)
    assert monitor.latest is not None and monitor.latest["current_rows"] == 51


def test_an_idle_window_by_seconds_is_recomputed_when_a_bucket_expires():
    monitor = _monitor({"seconds": 100})  # 50 buckets of 2 s
    events = _events(20)
    for event in events:
        event["timestamp"] = "1970-01-01T00:16:40+00:00"  # 1000.0
    monitor.ingest(events)
    assert monitor.refresh(now=1000.0)
    assert not monitor.refresh(now=1050.0)  # the bucket is still in the window
    assert monitor.latest is not None and monitor.latest["current_rows"] == 20
    assert monitor.refresh(now=1101.0)
    assert monitor.latest is not None and monitor.latest["current_rows"] == 0
    assert not monitor.refresh(now=1200.0)


def test_a_failed_recompute_is_retried_without_news():
    monitor = _monitor({"rows": 1000})
    assert monitor.refresh(now=0.0)
    monitor.recompute_error = "RuntimeError: boom"  # as the service's loop records a failure
    assert monitor.refresh(now=1.0)
    assert monitor.recompute_error is None


def test_per_segment_drift_kept_between_recomputes_equals_a_fresh_computation():
    from modelmon.engine.segment_drift import segment_drift

    monitor = _monitor({"rows": 1000})
    rng = np.random.default_rng(5)
    events = _events(600)
    for event in events:
        event["features"]["c"] = str(rng.choice(list("abc")))  # type: ignore[index]
    monitor.ingest(events[:400])
    monitor.recompute(now=1.0)
    monitor.add_targets([{"id": str(i), "target": 1.0} for i in range(50)])  # no event changes
    monitor.recompute(now=2.0)
    for event in events[400:]:
        event["features"]["c"] = "b"  # type: ignore[index]
    monitor.ingest(events[400:])  # only segment value b moves
    for now in (3.0, 4.0):
        latest = monitor.recompute(now=now)
        fresh = segment_drift(monitor.reference, monitor.window.current(), monitor.config.drift)
        for key in ("drift", "drift_ranking", "drift_too_small"):
            assert latest["segments"][key] == fresh[key]
    in_b = sum(event["features"]["c"] == "b" for event in events)  # type: ignore[index]
    assert latest["segments"]["drift"]["c"]["b"]["rows"] == in_b
