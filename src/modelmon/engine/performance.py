"""Model performance from mergeable counts: realized metrics on labelled rows, compared with the reference.

The ``performance`` part of a profile holds :class:`~modelmon.engine.performance_parts.RegressionCounts`
(MAE, RMSE, mean error, MAPE, R2) or :class:`~modelmon.engine.performance_parts.ClassificationCounts`
(accuracy, precision, recall, F1, ROC AUC, log loss). Rows whose target has not arrived yet are
counted as unlabelled, not as errors. The report section is
:func:`modelmon.engine.performance_section.performance_section`.

>>> import pandas as pd
>>> from modelmon.engine.profile import ProfileSpec
>>> from modelmon.schema import Schema
>>> schema = Schema(task="classification", numerical=["x"], prediction="p", target="y")
>>> reference = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "p": [1, 0, 1, 0], "y": [1, 0, 1, 1]})
>>> spec = ProfileSpec.fit(reference, schema)
>>> part = PerformancePart.build(pd.DataFrame({"x": [1.0, 2.0], "p": [1, 1], "y": [1, None]}), spec)
>>> part.counts.labelled, part.counts.unlabelled, part.counts.metrics()["accuracy"]
(1, 1, 1.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelmon.engine.performance_parts import (
    MAX_LABELS,
    ClassificationCounts,
    Counts,
    ModelArrays,
    RegressionCounts,
    counts_from_dict,
    label_of,
    label_slots,
    top_labels,
)
from modelmon.engine.report import ReportInputs
from modelmon.schema import Schema

if TYPE_CHECKING:
    from modelmon.engine.profile import ProfileSpec

__all__ = [
    "PerformancePart",
    "PerformanceState",
    "absent_part",
    "compare_metrics",
    "counts_by_group",
    "counts_of",
    "model_arrays",
    "performance_state",
]


def _as_float(series: pd.Series | None, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Float values (NaN where missing or unusable) and a mask of present-but-not-a-number values."""
    if series is None:
        return np.full(rows, np.nan), np.zeros(rows, dtype=bool)
    present = series.notna().to_numpy()
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    values = np.where(np.isfinite(values), values, np.nan)
    return values, present & np.isnan(values)


@dataclass(frozen=True)
class PerformanceState:
    """What the reference fixes for performance counts."""

    task: str
    prediction: str
    target: str | None
    labels: tuple[str, ...] = ()
    positive: str = "1"
    probability: str | None = None
    #: regression sums are kept of ``target - shift`` (the reference's mean target) so that
    #: R2's total sum of squares does not lose precision to cancellation
    shift: float = 0.0

    @classmethod
    def fit(cls, reference: pd.DataFrame, schema: Schema) -> PerformanceState | None:
        """``None`` when the schema names no prediction column (without a target, rows are unlabelled)."""
        if schema.prediction is None:
            return None
        if schema.task == "regression":
            target = reference.get(schema.target) if schema.target is not None else None
            values, _ = _as_float(target, len(reference))
            shift = float(np.nanmean(values)) if np.isfinite(values).any() else 0.0
            return cls("regression", schema.prediction, schema.target, shift=shift)
        columns = [name for name in (schema.target, schema.prediction) if name in reference.columns]
        both = pd.concat([reference[name].astype(object) for name in columns], ignore_index=True)
        kept = top_labels(both, MAX_LABELS)
        positive = label_of(schema.positive_class)
        if positive not in kept:
            kept = [*kept[: MAX_LABELS - 1], positive]
        probability = _probability_column(schema, positive) if len(kept) <= 2 else None
        return cls("classification", schema.prediction, schema.target, tuple(kept), positive, probability)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "labels": list(self.labels)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PerformanceState:
        return cls(**{**data, "labels": tuple(data["labels"])})


def _probability_column(schema: Schema, positive: str) -> str | None:
    """The column holding P(positive): the only one, or the one named after the positive class."""
    if len(schema.probabilities) == 1:
        return schema.probabilities[0]
    named = [name for name in schema.probabilities if name.endswith(positive)]
    return named[0] if len(named) == 1 else None


def performance_state(spec: ProfileSpec) -> PerformanceState | None:
    """The spec's performance state (fitted with the ``performance`` part), if any."""
    state = spec.state.get("performance")
    return state if isinstance(state, PerformanceState) else None


def _slots(series: pd.Series | None, labels: tuple[str, ...], rows: int) -> np.ndarray:
    if series is None:
        return np.full(rows, -1, dtype=np.int64)
    return label_slots(series, {label: i for i, label in enumerate(labels)}, other=len(labels), missing=-1)


def model_arrays(frame: pd.DataFrame, state: PerformanceState) -> ModelArrays:
    """Read prediction, target and probability of ``frame``; absent columns read as missing."""

    def column(name: str | None) -> pd.Series | None:
        return frame[name] if name is not None and name in frame.columns else None

    rows = len(frame)
    if state.task == "regression":
        prediction, _ = _as_float(column(state.prediction), rows)
        target, invalid = _as_float(column(state.target), rows)
        return ModelArrays(prediction, target, invalid)
    probability = None
    if state.probability is not None:
        probability, _ = _as_float(column(state.probability), rows)
        probability[(probability < 0) | (probability > 1)] = np.nan
    return ModelArrays(
        _slots(column(state.prediction), state.labels, rows),
        _slots(column(state.target), state.labels, rows),
        np.zeros(rows, dtype=bool),
        probability,
    )


def counts_of(arrays: ModelArrays, state: PerformanceState, rows: np.ndarray | None = None) -> Counts:
    """Counts of all rows of ``arrays``, or of the rows in the boolean mask ``rows``."""
    if state.task == "regression":
        return RegressionCounts.of(arrays, state.shift, rows)
    return ClassificationCounts.of(arrays, state.labels, state.positive, rows)


def counts_by_group(
    arrays: ModelArrays, state: PerformanceState, groups: np.ndarray, count: int
) -> list[Counts]:
    """Counts per group in one pass; ``groups`` gives each row's group in ``range(count)``."""
    if state.task == "regression":
        return list(RegressionCounts.by_group(arrays, state.shift, groups, count))
    return list(ClassificationCounts.by_group(arrays, state.labels, state.positive, groups, count))


@dataclass
class PerformancePart:
    """The ``performance`` part of a profile: the model's counts over all rows."""

    counts: Counts

    @classmethod
    def fit(cls, reference: pd.DataFrame, spec: ProfileSpec) -> PerformanceState | None:
        if spec.schema.target is None:
            return None
        return PerformanceState.fit(reference, spec.schema)

    @classmethod
    def build(cls, frame: pd.DataFrame, spec: ProfileSpec) -> PerformancePart | None:
        state = performance_state(spec)
        if state is None:
            return None
        return cls(counts_of(model_arrays(frame, state), state))

    def __add__(self, other: PerformancePart) -> PerformancePart:
        return PerformancePart(self.counts + other.counts)  # type: ignore[operator]

    def to_dict(self) -> dict[str, Any]:
        return self.counts.to_dict()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PerformancePart:
        return cls(counts_from_dict(data))


def compare_metrics(
    current: Mapping[str, float | None], reference: Mapping[str, float | None]
) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """``(delta, relative_change)`` of each metric: current - reference, and that over |reference|."""
    delta: dict[str, float | None] = {}
    relative: dict[str, float | None] = {}
    for name, value in current.items():
        base = reference.get(name)
        both = value is not None and base is not None
        delta[name] = value - base if both else None  # type: ignore[operator]
        relative[name] = (value - base) / abs(base) if both and base else None  # type: ignore[operator]
    return delta, relative


def absent_part(inputs: ReportInputs, name: str, what: str) -> str | None:
    """Why a section cannot read part ``name`` of both profiles, or ``None`` when it can."""
    if name not in inputs.reference.parts:
        return f"the reference profile carries no {what}"
    if name not in inputs.current.parts:
        # the empty profile (of an empty window) carries no parts at all
        return (
            "no rows in the current data yet"
            if not inputs.current.rows
            else f"the current profile carries no {what}"
        )
    return None
