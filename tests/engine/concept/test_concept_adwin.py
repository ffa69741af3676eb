"""ADWIN against river's ``drift.ADWIN`` on the same streams: same detections, same window state."""

from __future__ import annotations

import numpy as np
import pytest

from modelmon.engine.concept.adwin import ADWIN

river_drift = pytest.importorskip("river.drift")


def _streams() -> list[tuple[str, np.ndarray]]:
    streams = []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        streams.append(
            (f"gaussian-shift-{seed}", np.concatenate([rng.normal(0, 1, 1500), rng.normal(0.6, 1, 1500)]))
        )
        streams.append(
            (f"bernoulli-{seed}", (rng.random(3000) < np.repeat([0.1, 0.3, 0.1], 1000)).astype(float))
        )
        streams.append((f"lognormal-{seed}", rng.lognormal(0, 1.0, 3000) * np.repeat([1.0, 1.8], 1500)))
    streams.append(("stationary", np.random.default_rng(9).normal(5, 2, 4000)))
    return streams


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"delta": 0.05, "clock": 8},
        {"clock": 1, "max_buckets": 3, "min_window_length": 10, "grace_period": 30},
    ],
)
def test_same_detections_and_window_as_river(params: dict) -> None:
    detected_somewhere = False
    for name, stream in _streams():
        ours, theirs = ADWIN(**params), river_drift.ADWIN(**params)
        ours_found, theirs_found = [], []
        for i, value in enumerate(stream.tolist()):
            ours.update(value)
            theirs.update(value)
            if ours.drift_detected:
                ours_found.append(i)
            if theirs.drift_detected:
                theirs_found.append(i)
            assert ours.width == theirs.width, (name, i)
        assert ours_found == theirs_found, name
        assert ours.estimation == pytest.approx(theirs.estimation, rel=1e-12, abs=1e-12), name
        detected_somewhere |= bool(ours_found)
    assert detected_somewhere


def test_stationary_stream_has_no_detection() -> None:
    detector = ADWIN()
    for value in np.random.default_rng(3).normal(0, 1, 5000).tolist():
        detector.update(value)
        assert not detector.drift_detected
    assert detector.width == 5000


def test_parameters_are_kept_and_validated() -> None:
    detector = ADWIN(delta=0.01, clock=16)
    assert (detector.delta, detector.clock, detector.max_buckets) == (0.01, 16, 5)
    with pytest.raises(ValueError, match="delta must be between 0 and 1"):
        ADWIN(delta=1.5)
    with pytest.raises(ValueError, match="clock must be an integer >= 1"):
        ADWIN(clock=0)
