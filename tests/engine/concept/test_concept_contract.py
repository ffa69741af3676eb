"""One contract over every registered detector: parameters kept, state reset, results read-only."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from modelmon.engine.concept import DETECTORS

FACTORIES = [(task, name, factory) for task, table in DETECTORS.items() for name, factory in table.items()]


@pytest.mark.parametrize(("task", "name", "factory"), FACTORIES, ids=[f"{t}-{n}" for t, n, _ in FACTORIES])
def test_detector_contract(task: str, name: str, factory) -> None:
    detector = factory()
    kind = type(detector)
    # constructor parameters are public attributes, unchanged
    for parameter in inspect.signature(kind.__init__).parameters.values():
        if parameter.name != "self":
            assert hasattr(detector, parameter.name), parameter.name
    fresh = repr(vars(factory()))
    # results are read through properties that cannot be set
    with pytest.raises(AttributeError):
        detector.drift_detected = True  # type: ignore[misc]
    rng = np.random.default_rng(0)
    stream = (rng.random(3000) < np.repeat([0.1, 0.6], 1500)).astype(float)
    found = []
    for i, value in enumerate(stream.tolist()):
        detector.update(value)
        if detector.drift_detected:
            found.append(i)
    assert found and found[0] >= 1500, (task, name)
    # _reset builds all mutable state again: a reset detector equals a new one
    detector._reset()
    assert repr(vars(detector)) == fresh
    assert not detector.drift_detected


def test_classification_errors_compare_labels_as_the_performance_counts_do() -> None:
    from modelmon.engine.concept import error_stream

    target = np.array([1.0, 0.0, 2.0], dtype=object)
    prediction = np.array(["1", "yes", 2], dtype=object)  # text beside numbers: 1.0 and "1" still agree
    assert error_stream("classification", target, prediction).tolist() == [0.0, 1.0, 0.0]
