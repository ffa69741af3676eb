"""Performance without labels: confidence-based performance estimation (CBPE, as NannyML does it).

This module covers classifiers; regressions get direct loss estimation (:mod:`modelmon.engine.dle`).

On the reference, an isotonic regression maps the model's P(positive) to the observed frequency of
the positive class, evaluated once per score bin: that calibration map is the part's state. A
profile then only counts rows per score bin, split by the predicted label. If the calibration
still holds on the current data, a row predicted positive in bin ``b`` is a true positive with
probability ``c[b]`` and a false positive otherwise, so the expected confusion matrix, and from it
accuracy, precision, recall, F1 and ROC AUC, need no targets at all. Estimates are reported as
such (``"estimated": true``) beside the realized metrics; a concept change (the relation between
inputs and target moves) breaks the calibration and is *not* seen by this estimate.

>>> import numpy as np, pandas as pd
>>> from modelmon.engine.profile import ProfileSpec
>>> from modelmon.schema import Schema
>>> rng = np.random.default_rng(0)
>>> p = rng.uniform(0, 1, 20_000)
>>> y = (rng.uniform(0, 1, p.size) < p).astype(int)
>>> frame = pd.DataFrame({"p": p, "y": y, "label": (p >= 0.5).astype(int)})
>>> schema = Schema(task="classification", numerical=["p"], prediction="label", target="y",
...                 probabilities=["p"])
>>> spec = ProfileSpec.fit(frame, schema)
>>> part = EstimatedPart.build(frame.drop(columns="y"), spec)
>>> round(estimate(part, spec.state["estimated"])["accuracy"], 2)
0.75
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from modelmon.engine.performance import (
    PerformanceState,
    compare_metrics,
    model_arrays,
    performance_state,
)
from modelmon.engine.performance_parts import (
    N_SCORE_BINS,
    dense_counts,
    roc_auc_from_histograms,
    score_bins,
    sparse_counts,
)
from modelmon.engine.report import ReportInputs
from modelmon.errors import SchemaError

if TYPE_CHECKING:
    import pandas as pd

    from modelmon.engine.profile import ProfileSpec

__all__ = ["MIN_CALIBRATION_ROWS", "CalibrationState", "EstimatedPart", "estimate", "estimated_performance"]

#: labelled reference rows needed (with both classes present) to fit the calibration map
MIN_CALIBRATION_ROWS = 100


@dataclass(frozen=True)
class CalibrationState:
    """The calibration map (calibrated P(positive) per score bin) and how to read a frame."""

    performance: PerformanceState
    calibrated: np.ndarray

    @classmethod
    def fit(cls, reference: pd.DataFrame, spec: ProfileSpec) -> CalibrationState | None:
        """``None`` unless the model is a binary classifier with a probability column and the
        reference has enough labelled, scored rows of both classes."""
        from sklearn.isotonic import IsotonicRegression

        state = performance_state(spec) or PerformanceState.fit(reference, spec.schema)
        if state is None or state.probability is None or state.probability not in reference.columns:
            return None
        arrays = model_arrays(reference, state)
        assert arrays.probability is not None
        usable = (arrays.target >= 0) & ~np.isnan(arrays.probability)
        score = arrays.probability[usable]
        positive = (arrays.target[usable] == state.labels.index(state.positive)).astype(np.float64)
        if len(score) < MIN_CALIBRATION_ROWS or positive.min() == positive.max():
            return None
        isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(score, positive)
        centres = (np.arange(N_SCORE_BINS) + 0.5) / N_SCORE_BINS
        calibrated = isotonic.predict(centres)
        # within a bin, use the mean calibrated value of the reference rows that fell there
        bins = score_bins(score)
        seen = np.bincount(bins, minlength=N_SCORE_BINS)
        mapped = np.bincount(bins, weights=isotonic.predict(score), minlength=N_SCORE_BINS)
        calibrated[seen > 0] = mapped[seen > 0] / seen[seen > 0]
        return cls(state, calibrated)

    def to_dict(self) -> dict[str, Any]:
        return {"performance": self.performance.to_dict(), "calibrated": self.calibrated.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CalibrationState:
        calibrated = np.asarray(data["calibrated"], dtype=np.float64)
        return cls(PerformanceState.from_dict(data["performance"]), calibrated)


@dataclass
class EstimatedPart:
    """Rows per score bin, split by the predicted label (positive class or not); no targets needed."""

    predicted_positive: np.ndarray
    predicted_negative: np.ndarray
    unscored: int = 0

    @classmethod
    def fit(cls, reference: pd.DataFrame, spec: ProfileSpec) -> CalibrationState | None:
        return CalibrationState.fit(reference, spec)

    @classmethod
    def build(cls, frame: pd.DataFrame, spec: ProfileSpec) -> EstimatedPart | None:
        state = spec.state.get("estimated")
        if not isinstance(state, CalibrationState):
            return None
        arrays = model_arrays(frame, state.performance)
        assert arrays.probability is not None
        scored = (arrays.prediction >= 0) & ~np.isnan(arrays.probability)
        bins = score_bins(arrays.probability[scored])
        positive = arrays.prediction[scored] == state.performance.labels.index(state.performance.positive)
        return cls(
            np.bincount(bins[positive], minlength=N_SCORE_BINS),
            np.bincount(bins[~positive], minlength=N_SCORE_BINS),
            int(len(frame) - scored.sum()),
        )

    @property
    def rows(self) -> int:
        """Rows with a prediction and a probability."""
        return int(self.predicted_positive.sum() + self.predicted_negative.sum())

    def __add__(self, other: EstimatedPart) -> EstimatedPart:
        if not isinstance(other, EstimatedPart):
            raise SchemaError(f"cannot add an estimated-performance part and {type(other).__name__}")
        return EstimatedPart(
            self.predicted_positive + other.predicted_positive,
            self.predicted_negative + other.predicted_negative,
            self.unscored + other.unscored,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "unscored": self.unscored,
            "predicted_positive": sparse_counts(self.predicted_positive),
            "predicted_negative": sparse_counts(self.predicted_negative),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EstimatedPart:
        return cls(
            dense_counts(data["predicted_positive"], (N_SCORE_BINS,)),
            dense_counts(data["predicted_negative"], (N_SCORE_BINS,)),
            int(data["unscored"]),
        )


def estimate(part: EstimatedPart, state: CalibrationState) -> dict[str, float | None]:
    """Estimated accuracy, precision, recall, F1 and ROC AUC from the expected confusion matrix."""
    names = ("accuracy", "precision", "recall", "f1", "roc_auc")
    if not part.rows:
        return dict.fromkeys(names)
    c = state.calibrated
    tp, fp = float(part.predicted_positive @ c), float(part.predicted_positive @ (1 - c))
    fn, tn = float(part.predicted_negative @ c), float(part.predicted_negative @ (1 - c))
    every = part.predicted_positive + part.predicted_negative
    expected_positive, expected_negative = every * c, every * (1 - c)
    auc = None
    if expected_positive.sum() > 0 and expected_negative.sum() > 0:
        auc = roc_auc_from_histograms(expected_positive, expected_negative)[0]
    return {
        "accuracy": (tp + tn) / part.rows,
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None,
        "roc_auc": auc,
    }


def estimated_performance(inputs: ReportInputs) -> dict[str, Any]:
    """The ``estimated`` block of the performance section (CBPE; DLE for a regression), or why it
    does not apply."""
    if inputs.schema.task == "regression":
        from modelmon.engine.dle import dle_performance

        return dle_performance(inputs)
    state = inputs.reference.spec.state.get("estimated")
    current, reference = inputs.current.parts.get("estimated"), inputs.reference.parts.get("estimated")
    if not isinstance(state, CalibrationState) or current is None or reference is None:
        reason = (
            "needs a binary classifier with a probability column and at least "
            f"{MIN_CALIBRATION_ROWS} labelled reference rows of both classes to calibrate on"
        )
        return {"applicable": False, "estimated": True, "reason": reason}
    if not current.rows:
        return {"applicable": False, "estimated": True, "reason": "no scored rows in the current data"}
    now, before = estimate(current, state), estimate(reference, state)
    delta, relative = compare_metrics(now, before)
    return {
        "applicable": True,
        "estimated": True,
        "method": "CBPE",
        "current": now,
        "reference": before,
        "delta": delta,
        "relative_change": relative,
        "rows": current.rows,
        "unscored_rows": current.unscored,
        "note": (
            "estimated from probabilities calibrated on the reference (isotonic regression); "
            "valid while the relation between inputs and target holds, blind to concept change"
        ),
    }
