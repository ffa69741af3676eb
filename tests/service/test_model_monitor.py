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


def _labelled_events(rows: int, seed: int = 7) -> list[dict[str, object]]:
    """Events with their targets inline; the error grows tenfold halfway (a change of concept)."""
    rng = np.random.default_rng(seed)
    events = []
    for i in range(rows):
        x = float(rng.normal())
        noise = 0.1 if i < rows // 2 else 1.0
        event = {
            "id": str(i),
            "features": {"x": x, "z": float(rng.normal()), "c": str(rng.choice(list("abc")))},
        }
        event["prediction"] = 2 * x
        event["target"] = None if i % 7 == 0 else 2 * x + float(rng.normal()) * noise
        events.append(event)
    return events


def test_rows_beyond_the_window_are_counted_unframed_and_still_feed_the_detectors():
    """Many queued rows at once: the window keeps its newest 1,000 and only those are framed. The
    window and the detectors end as when the frame of every row was handed to the window (which
    profiled only its newest 1,000) and every labelled row to the detectors."""
    from modelmon.service.model_monitor import _INTERNAL

    events = _labelled_events(6000)
    at_once, whole = _monitor({"rows": 1000}), _monitor({"rows": 1000})
    at_once.ingest(events[:2500])
    at_once.recompute(now=10.0)
    at_once.ingest(events[2500:])
    assert at_once.window.newest_kept(3500) == 1000
    at_once.recompute(now=20.0)
    for part, now in ((events[:2500], 10.0), (events[2500:], 20.0)):
        frame = pd.DataFrame.from_records(whole.check(part).rows)
        whole.window.add(frame.drop(columns=_INTERNAL), now=now)
        whole.window.current()  # as a recompute reads it (the window's running total is kept by reads)
        whole._feed_concept(frame[frame["t"].notna()], now)
    assert at_once.window.current() == whole.window.current()
    assert at_once.window.rows == 1000
    assert at_once._concept.monitor.to_dict() == whole._concept.monitor.to_dict()
    assert at_once._concept.seen == len([e for e in events if e["target"] is not None])
    assert any(at_once._concept.monitor.detected.values())
    # the next rows take the places they would have had
    at_once.ingest(_events(150, start=9000))
    at_once.recompute(now=30.0)
    frame = pd.DataFrame.from_records(whole.check(_events(150, start=9000)).rows)
    whole.window.add(frame.drop(columns=_INTERNAL), now=30.0)
    assert at_once.window.current() == whole.window.current()
    assert at_once.window.bucket_count == whole.window.bucket_count


def _varied_events(rows: int, seed: int) -> list[dict[str, object]]:
    """Events as senders vary them: features in any order, some missing, unknown or of another
    type, targets inline or not, attributions on some, timestamps on some."""
    rng = np.random.default_rng(seed)
    events: list[dict[str, object]] = []
    for i in range(rows):
        features: dict[str, object] = {
            "x": [float(rng.normal()), None, "n/a", True, int(rng.integers(9))][int(rng.integers(5))],
            "z": float(rng.normal()),
            "c": ["a", "b", 3, None, "new"][int(rng.integers(5))],
        }
        if rng.random() < 0.2:
            del features["z"]
        if rng.random() < 0.2:
            features["extra"] = "x"
        names = list(features)
        rng.shuffle(names)
        shuffled = {name: features[name] for name in names}
        event: dict[str, object] = {"id": f"v{seed}-{i}", "features": shuffled}
        event["prediction"] = float(rng.normal()) if rng.random() < 0.9 else "text"
        if rng.random() < 0.5:
            event["target"] = [float(rng.normal()), None, 1][int(rng.integers(3))]
        if rng.random() < 0.3:
            event["attributions"] = {"x": float(rng.normal())}
        if rng.random() < 0.3:
            event["timestamp"] = "2026-12-08T00:00:00Z"
        events.append(event)
    return events


def test_checked_rows_are_framed_as_from_records_frames_them_without_the_internal_fields():
    from modelmon.service.model_monitor import _INTERNAL, framed

    monitor = _monitor({"rows": 1000})
    batches = [monitor.check(_events(40, seed=seed)).rows for seed in range(3)]  # one set of fields
    for seed in range(20):
        batches.append(
            monitor.check(_varied_events(int(np.random.default_rng(seed).integers(1, 60)), seed)).rows
        )
    for rows in batches:
        before = pd.DataFrame.from_records(rows).drop(columns=_INTERNAL)
        pd.testing.assert_frame_equal(framed(rows), before, check_exact=True)
        assert list(framed(rows).columns) == list(before.columns)
