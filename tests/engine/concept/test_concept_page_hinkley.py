"""PageHinkley against river's ``drift.PageHinkley``: same detections and the same sums at every step."""

from __future__ import annotations

import numpy as np
import pytest

from modelmon.engine.concept.page_hinkley import PageHinkley

river_drift = pytest.importorskip("river.drift")


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"mode": "up", "delta": 0.25, "threshold": 50.0},
        {"mode": "down", "threshold": 20.0, "min_instances": 10},
        {"alpha": 0.99, "threshold": 5.0},
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_detections_and_state_as_river(params: dict, seed: int) -> None:
    rng = np.random.default_rng(seed)
    stream = np.concatenate([rng.normal(1, 1, 1000), rng.normal(3, 1, 1000), rng.normal(0, 1, 1000)])
    ours, theirs = PageHinkley(**params), river_drift.PageHinkley(**params)
    ours_found, theirs_found = [], []
    for i, value in enumerate(stream.tolist()):
        ours.update(value)
        theirs.update(value)
        if ours.drift_detected:
            ours_found.append(i)
        if theirs.drift_detected:
            theirs_found.append(i)
        assert ours._sum_increase == theirs._sum_increase, i
        assert ours._sum_decrease == theirs._sum_decrease, i
    assert ours_found == theirs_found
    assert ours_found, "every stream here has a change in its mean"


def test_up_mode_ignores_a_fall() -> None:
    stream = np.concatenate([np.full(500, 5.0), np.full(500, 1.0)])
    detector = PageHinkley(mode="up", threshold=10.0)
    found = []
    for i, value in enumerate(stream.tolist()):
        detector.update(value)
        if detector.drift_detected:
            found.append(i)
    assert found == []


def test_parameters_are_kept_and_validated() -> None:
    detector = PageHinkley(threshold=10.0, mode="up")
    assert (detector.threshold, detector.mode, detector.min_instances) == (10.0, "up", 30)
    with pytest.raises(ValueError, match="mode must be one of up, down, both"):
        PageHinkley(mode="sideways")
    with pytest.raises(ValueError, match="alpha must be in"):
        PageHinkley(alpha=0.0)
