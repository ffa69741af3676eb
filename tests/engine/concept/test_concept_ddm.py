"""DDM against river's ``drift.binary.DDM``: same drifts and warnings on the same 0/1 streams."""

from __future__ import annotations

import numpy as np
import pytest

from modelmon.engine.concept.ddm import DDM

river_binary = pytest.importorskip("river.drift.binary")


@pytest.mark.parametrize(
    "params", [{}, {"warm_start": 300}, {"warning_threshold": 1.5, "drift_threshold": 2.5}]
)
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_same_drifts_and_warnings_as_river(params: dict, seed: int) -> None:
    rng = np.random.default_rng(seed)
    stream = (rng.random(4000) < np.repeat([0.15, 0.35, 0.15, 0.5], 1000)).astype(int)
    ours, theirs = DDM(**params), river_binary.DDM(**params)
    ours_events, theirs_events = [], []
    for i, error in enumerate(stream.tolist()):
        ours.update(error)
        theirs.update(error)
        ours_events.append((ours.drift_detected, ours.warning_detected))
        theirs_events.append((theirs.drift_detected, theirs.warning_detected))
        assert ours_events[-1] == theirs_events[-1], i
    assert any(drift for drift, _ in ours_events)


def test_steady_error_rate_after_warm_start_is_quiet() -> None:
    detector = DDM(warm_start=300)
    for error in (np.random.default_rng(5).random(5000) < 0.2).astype(int).tolist():
        detector.update(error)
        assert not detector.drift_detected
    assert detector.error_rate == pytest.approx(0.2, abs=0.02)


def test_parameters_are_kept_and_validated() -> None:
    detector = DDM(warm_start=50)
    assert (detector.warm_start, detector.warning_threshold, detector.drift_threshold) == (50, 2.0, 3.0)
    with pytest.raises(ValueError, match="warning_threshold <= drift_threshold"):
        DDM(warning_threshold=3.0, drift_threshold=2.0)
    with pytest.raises(ValueError, match="warm_start must be an integer >= 0"):
        DDM(warm_start=-1)
