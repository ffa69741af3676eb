"""Concept-drift detectors over a model's error stream, kept across calls (batch and online).

Which detectors, and on which stream:

- regression: ``ADWIN()`` and ``PageHinkley(delta=0.25, threshold=50, mode="up")`` over the absolute
  error ``|target - prediction|``, first clipped at the reference's 99th percentile of absolute
  error and divided by the reference's (clipped) mean absolute error. Clipping keeps a few huge
  errors (heavy tails are the norm for durations, prices, amounts) from tripping Page-Hinkley's
  cumulative sum; scaling makes ``delta`` and ``threshold`` mean the same on any unit: tolerate a
  rise of a quarter of the reference MAE, alarm after 50 reference MAEs of accumulated excess. Only
  rises count: a model getting better is not an incident.
- classification: ``DDM(warm_start=300)`` and ``ADWIN()`` over the 0/1 error ``prediction != target``.
  DDM's minimum error rate is unreliable over its first values (a lucky start makes every later
  rate look high), so it waits for 300 before it may alarm; ADWIN is the steadier second opinion.

On the demo data (3000-row current streams, a concept change at row 1500, 30 seeds) this found
every change within about 300 rows, with no alarm on 30 control streams except DDM once.

Online, the service keeps one :class:`ConceptMonitor` per model and calls :meth:`ConceptMonitor.update`
with the errors of the targets that just arrived, in timestamp order; detector state is kept
between calls, ``detections`` holds the stream positions of every change found so far and
``detected[name]`` says whether ``name`` has found one. As in river, a detector that fires starts
afresh on its next value, so it fires again only on a further change.

A single detector's alarm is not an incident: at their defaults each fires on stationary streams
now and then (rates in ``bench/RESULTS.md``, ``python -m bench.concept_alarms``). A change is
*confirmed* (:func:`confirmed_change`) when two detectors agree, or when one fires and the windowed
error is above the reference's band (:class:`~modelmon.engine.concept.band.ErrorBand`, kept in
``band`` when the monitor is built from reference errors).

>>> rng = np.random.default_rng(0)
>>> errors = rng.random(2000) < np.where(np.arange(2000) < 1000, 0.1, 0.3)  # 10 % wrong, then 30 %
>>> monitor = ConceptMonitor("classification")
>>> monitor.update(errors)
[('ddm', 1052), ('adwin', 1087)]
>>> monitor.detected
{'ddm': True, 'adwin': True}
>>> confirmed_change(monitor.detected, beyond_band=False)
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from modelmon.engine.columns import category_labels
from modelmon.engine.concept.adwin import ADWIN
from modelmon.engine.concept.band import ErrorBand
from modelmon.engine.concept.ddm import DDM
from modelmon.engine.concept.page_hinkley import PageHinkley
from modelmon.errors import ConfigError

__all__ = ["DETECTORS", "ConceptMonitor", "confirmed_change", "error_stream"]

Detector = ADWIN | PageHinkley | DDM

#: task -> detector name -> factory; one table, the report and the service read it
DETECTORS: dict[str, dict[str, Callable[[], Detector]]] = {
    "regression": {
        "adwin": lambda: ADWIN(),
        "page_hinkley": lambda: PageHinkley(delta=0.25, threshold=50.0, mode="up"),
    },
    "classification": {
        "ddm": lambda: DDM(warm_start=300),
        "adwin": lambda: ADWIN(),
    },
}

#: reference absolute errors are clipped at this quantile before scaling (regression)
CLIP_QUANTILE = 0.99


def error_stream(task: str, target: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """Absolute errors (regression) or 0/1 misclassifications (classification).

    >>> error_stream("classification", np.array([1.0, 0.0, 1.0]), np.array(["1", "1", "1"])).tolist()
    [0.0, 1.0, 0.0]
    """
    if task == "regression":
        return np.abs(np.asarray(target, dtype=float) - np.asarray(prediction, dtype=float))
    if task == "classification":
        return (_labels(target) != _labels(prediction)).astype(float)
    raise ConfigError(f"unknown task {task!r}: use 'regression' or 'classification'")


def confirmed_change(flags: Mapping[str, bool], beyond_band: bool) -> bool:
    """A confirmed change: two detectors flag one, or one does while the error is beyond its band.

    >>> confirmed_change({"ddm": True, "adwin": False}, beyond_band=False)
    False
    >>> confirmed_change({"ddm": True, "adwin": False}, beyond_band=True)
    True
    """
    flagged = sum(bool(flag) for flag in flags.values())
    return flagged >= 2 or (flagged >= 1 and bool(beyond_band))


def _labels(values: np.ndarray) -> np.ndarray:
    """Each value's class label as the performance counts spell it (1, 1.0 and "1" agree)."""
    codes, labels, _ = category_labels(pd.Series(values, dtype=object))
    return np.array([*labels, ""], dtype=object)[codes]  # code -1 (missing) picks ""


class ConceptMonitor:
    """The task's detectors over one error stream, with their detections.

    ``clip`` and ``scale`` transform regression errors as ``min(error, clip) / scale``; build them from
    reference errors with :meth:`from_reference`.
    """

    def __init__(
        self, task: str, clip: float = float("inf"), scale: float = 1.0, band: ErrorBand | None = None
    ) -> None:
        if task not in DETECTORS:
            raise ValueError(f"task must be one of {', '.join(DETECTORS)}, got {task!r}")
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale!r}")
        self.task = task
        self.clip = clip
        self.scale = scale
        #: the windowed error against the reference's band (None without reference errors)
        self.band = band
        self._reset()

    def _reset(self) -> None:
        self._detectors = {name: factory() for name, factory in DETECTORS[self.task].items()}
        self._seen = 0
        self._detections: dict[str, list[int]] = {name: [] for name in self._detectors}
        if self.band is not None:
            self.band._reset()

    @classmethod
    def from_reference(cls, task: str, reference_errors: np.ndarray) -> ConceptMonitor:
        """A monitor whose regression errors are scaled by the reference's clipped mean error."""
        errors = np.asarray(reference_errors, dtype=float)
        errors = errors[np.isfinite(errors)]
        if not len(errors):
            return cls(task)
        if task != "regression":
            return cls(task, band=ErrorBand.from_errors(errors, binary=True))
        clip = float(np.quantile(errors, CLIP_QUANTILE))
        scale = float(np.minimum(errors, clip).mean())
        if not scale > 0:
            return cls(task)
        return cls(task, clip, scale, band=ErrorBand.from_errors(np.minimum(errors, clip) / scale))

    @property
    def seen(self) -> int:
        """Errors fed so far."""
        return self._seen

    @property
    def detections(self) -> dict[str, list[int]]:
        """Stream positions (0-based) at which each detector found a change."""
        return {name: list(found) for name, found in self._detections.items()}

    @property
    def detected(self) -> dict[str, bool]:
        """Whether each detector has found a change so far."""
        return {name: bool(found) for name, found in self._detections.items()}

    def transform(self, errors: Iterable[float]) -> np.ndarray:
        """The finite errors as the detectors see them (regression: clipped and scaled)."""
        values = np.asarray(list(errors) if not isinstance(errors, np.ndarray) else errors, dtype=float)
        values = values[np.isfinite(values)]
        return np.minimum(values, self.clip) / self.scale if self.task == "regression" else values

    def update(self, errors: Iterable[float]) -> list[tuple[str, int]]:
        """Feed errors in time order; return the ``(detector, position)`` changes found in this call.

        Missing (NaN) errors are skipped: positions count the errors fed, not the rows.
        """
        values = self.transform(errors)
        found: list[tuple[str, int]] = []
        listed = values.tolist()
        for name, detector in self._detectors.items():
            for offset in detector.update_many(listed):
                self._detections[name].append(self._seen + offset)
                found.append((name, self._seen + offset))
        self._seen += len(values)
        if self.band is not None:
            self.band.update(values)
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "seen": self._seen,
            "clip": self.clip if np.isfinite(self.clip) else None,
            "scale": self.scale,
            "detections": self.detections,
            "detected": self.detected,
            "band": None if self.band is None else self.band.to_dict(),
        }
