"""Detectors fed a batch at a time (``update_many``) against river fed value by value.

The service feeds each recompute's labelled rows at once. The batch loop must give the alarms of
one value at a time, on long streams with several changes, whatever the batch sizes: the same
detection indices as river's detectors, and the same state at the end of every batch.
"""

from __future__ import annotations

import numpy as np
import pytest

from modelmon.engine.concept import DETECTORS, ConceptMonitor
from modelmon.engine.concept.adwin import ADWIN
from modelmon.engine.concept.band import ErrorBand
from modelmon.engine.concept.ddm import DDM
from modelmon.engine.concept.page_hinkley import PageHinkley

river_drift = pytest.importorskip("river.drift")
river_binary = pytest.importorskip("river.drift.binary")


#: values of each level of the streams below (each stream holds six levels)
LEVEL = 4000


def _gaussian(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    means = np.repeat([0.0, 1.5, 0.2, 2.5, 0.5, 3.0], LEVEL)
    return rng.normal(means, 1.0)


def _errors01(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rates = np.repeat([0.1, 0.35, 0.12, 0.5, 0.15, 0.4], LEVEL)
    return (rng.random(len(rates)) < rates).astype(float)


def _batches(length: int, seed: int) -> list[tuple[int, int]]:
    """Consecutive (start, end) slices of random sizes, single values and empty batches among them."""
    rng = np.random.default_rng(seed)
    bounds, start = [], 0
    while start < length:
        size = int(rng.choice([0, 1, 2, 7, 31, 32, 33, 500, 1777]))
        bounds.append((start, min(length, start + size)))
        start += size
    return bounds


def _river_positions(detector, stream: list[float]) -> tuple[list[int], list]:
    """Detection indices of a river detector fed one value at a time, and its state after each."""
    found, states = [], []
    for i, value in enumerate(stream):
        detector.update(value)
        if detector.drift_detected:
            found.append(i)
        states.append(_state(detector))
    return found, states


def _state(detector) -> tuple:
    if isinstance(detector, PageHinkley | river_drift.PageHinkley):
        return (detector._sum_increase, detector._sum_decrease, detector.drift_detected)
    if isinstance(detector, ADWIN | river_drift.ADWIN):
        return (detector.width, detector.estimation, detector.drift_detected)
    return (detector.drift_detected, detector.warning_detected)


CASES = [
    ("page_hinkley-up", lambda: PageHinkley(delta=0.25, threshold=50.0, mode="up"),
     lambda: river_drift.PageHinkley(delta=0.25, threshold=50.0, mode="up"), _gaussian),
    ("page_hinkley-both", lambda: PageHinkley(threshold=20.0, alpha=0.999),
     lambda: river_drift.PageHinkley(threshold=20.0, alpha=0.999), _gaussian),
    ("adwin", ADWIN, river_drift.ADWIN, _gaussian),
    ("adwin-binary", ADWIN, river_drift.ADWIN, _errors01),
    ("adwin-clock-1", lambda: ADWIN(clock=1, max_buckets=3, grace_period=30),
     lambda: river_drift.ADWIN(clock=1, max_buckets=3, grace_period=30), _gaussian),
    ("ddm", lambda: DDM(warm_start=300), lambda: river_binary.DDM(warm_start=300), _errors01),
    ("ddm-default", DDM, river_binary.DDM, _errors01),
]  # fmt: skip


@pytest.mark.parametrize(("name", "ours", "theirs", "stream"), CASES, ids=[case[0] for case in CASES])
@pytest.mark.parametrize("seed", [0, 1])
def test_batches_give_rivers_detections_and_state(name, ours, theirs, stream, seed: int) -> None:
    values = stream(seed).tolist()
    expected, states = _river_positions(theirs(), values)
    assert len(expected) >= 3, f"{name}: the stream should hold several detected changes"
    detector, found = ours(), []
    for start, end in _batches(len(values), seed):
        found += [start + offset for offset in detector.update_many(values[start:end])]
        if end > start:
            assert _state(detector) == states[end - 1], (name, end)
    assert found == expected, name


def test_error_band_fed_in_batches_equals_value_by_value() -> None:
    values = np.random.default_rng(4).exponential(1.0, 5000).tolist()
    whole, single = ErrorBand(1.0, 1.0), ErrorBand(1.0, 1.0)
    for start, end in _batches(len(values), 4):
        whole.update(values[start:end])
        for value in values[start:end]:
            single.update([value])
        assert (whole.rows, whole.mean, whole.beyond) == (single.rows, single.mean, single.beyond), end
    # before the window first fills, the running sum is the one of every value in order
    early = ErrorBand(1.0, 1.0, window=500)
    early.update(values[:100])
    early.update(values[100:300])
    total = 0.0
    for value in values[:300]:
        total += value
    assert early.mean == total / 300


@pytest.mark.parametrize("task", list(DETECTORS))
def test_monitor_finds_the_same_changes_in_any_batches(task: str) -> None:
    stream = _gaussian(5) ** 2 if task == "regression" else _errors01(5)
    reference = stream[:2000]
    whole = ConceptMonitor.from_reference(task, reference)
    expected = whole.update(stream)
    assert len(expected) >= 3
    monitor = ConceptMonitor.from_reference(task, reference)
    found = []
    for start, end in _batches(len(stream), 5):
        found += monitor.update(stream[start:end])
    assert sorted(found, key=lambda item: (item[1], item[0])) == sorted(
        expected, key=lambda item: (item[1], item[0])
    )
    assert monitor.to_dict() == whole.to_dict()
