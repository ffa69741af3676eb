"""Performance per segment: the model's counts per value of each segment column, the worst ranked.

Each segment column keeps its ``TOP_VALUES`` most frequent reference values by name; other values
fall in ``"other"`` and missing ones in ``"missing"``. A segment is compared with the same segment
on the reference; its degradation is the relative MAE increase (regression) or the accuracy drop
(classification). A segment is *degraded* when that change is both large (``DEFAULT_MAE_INCREASE``
or ``DEFAULT_ACCURACY_DROP``) and beyond sampling noise (``Z_DEGRADED`` standard errors, both
computed from the counts). Segments with fewer labelled rows than ``min_segment_rows`` (here or on
the reference) are listed as too small instead of being ranked.

>>> import pandas as pd
>>> from modelmon.engine.profile import ProfileSpec
>>> from modelmon.schema import Schema
>>> schema = Schema(numerical=["x"], prediction="p", target="y", segments=["zone"])
>>> reference = pd.DataFrame({"x": [1.0, 2.0, 3.0], "p": [1.0, 2.0, 3.0], "y": [1.0, 2.5, 3.0],
...                           "zone": ["a", "b", "a"]})
>>> spec = ProfileSpec.fit(reference, schema)
>>> part = SegmentsPart.build(pd.DataFrame({"p": [1.0, 5.0], "y": [2.0, 5.0], "zone": ["a", "q"]}), spec)
>>> {value: counts.metrics()["mae"] for value, counts in part.groups["zone"].items()}
{'a': 1.0, 'other': 0.0}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from modelmon.engine.buckets import bucket_slots, segment_buckets
from modelmon.engine.performance import (
    PerformanceState,
    absent_part,
    compare_metrics,
    counts_by_group,
    model_arrays,
    performance_state,
)
from modelmon.engine.performance_parts import (
    ClassificationCounts,
    Counts,
    RegressionCounts,
    counts_from_dict,
)
from modelmon.engine.report import ReportInputs, not_applicable
from modelmon.errors import SchemaError

if TYPE_CHECKING:
    from modelmon.engine.column_reader import ColumnReader
    from modelmon.engine.profile import ProfileSpec

__all__ = [
    "DEFAULT_ACCURACY_DROP",
    "DEFAULT_MAE_INCREASE",
    "DEFAULT_MIN_ROWS",
    "GroupState",
    "GroupedPart",
    "SegmentsPart",
    "segments_section",
]

#: fewest labelled rows for a segment to be measured and ranked
DEFAULT_MIN_ROWS = 30
#: a segment is degraded when its MAE grows by this share, or its accuracy drops by this much ...
DEFAULT_MAE_INCREASE = 0.10
DEFAULT_ACCURACY_DROP = 0.05
#: ... and the change is this many standard errors away from no change
Z_DEGRADED = 3.0


@dataclass(frozen=True)
class GroupState:
    """The performance state and each grouping column's buckets (top values, OTHER, MISSING)."""

    performance: PerformanceState
    buckets: dict[str, tuple[str, ...]]

    @classmethod
    def fit(cls, reference: pd.DataFrame, spec: ProfileSpec, columns: tuple[str, ...]) -> GroupState | None:
        state = performance_state(spec) or PerformanceState.fit(reference, spec.schema)
        if state is None or not columns:
            return None
        return cls(state, {column: segment_buckets(reference, column) for column in columns})

    def to_dict(self) -> dict[str, Any]:
        buckets = {column: list(values) for column, values in self.buckets.items()}
        return {"performance": self.performance.to_dict(), "buckets": buckets}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroupState:
        buckets = {column: tuple(values) for column, values in data["buckets"].items()}
        return cls(PerformanceState.from_dict(data["performance"]), buckets)

    def slots(
        self, frame: pd.DataFrame, column: str, reads: Mapping[str, ColumnReader] | None = None
    ) -> np.ndarray:
        """Bucket index of every row of ``frame`` for ``column`` (from its reader in ``reads``, if any)."""
        return bucket_slots(frame, column, self.buckets[column], (reads or {}).get(column))


@dataclass
class GroupedPart:
    """Counts per bucket of each grouping column (only buckets that have rows are kept)."""

    groups: dict[str, dict[str, Counts]]
    #: the spec.state key of this part and the schema role naming its columns
    name: ClassVar[str] = ""
    role: ClassVar[str] = ""

    @classmethod
    def fit(cls, reference: pd.DataFrame, spec: ProfileSpec) -> GroupState | None:
        return GroupState.fit(reference, spec, getattr(spec.schema, cls.role))

    @classmethod
    def build(cls, frame: pd.DataFrame, spec: ProfileSpec) -> GroupedPart | None:
        return cls.build_slices(frame, spec, [0, len(frame)])[0]

    #: :func:`~modelmon.engine.slices.profile_slices` hands :meth:`build_slices` the frame's column reads
    takes_column_reads: ClassVar[bool] = True

    @classmethod
    def build_slices(
        cls,
        frame: pd.DataFrame,
        spec: ProfileSpec,
        bounds: Sequence[int],
        reads: Mapping[str, ColumnReader] | None = None,
    ) -> list[GroupedPart | None]:
        """The part of each slice ``frame.iloc[bounds[i]:bounds[i + 1]]``, as :meth:`build` of it
        alone, the model's columns and the grouping columns read once for all (a grouping column
        from its reader in ``reads``, of ``frame``'s rows, when it has one)."""
        state = spec.state.get(cls.name)
        if not isinstance(state, GroupState):
            return [None] * (len(bounds) - 1)
        arrays = model_arrays(frame, state.performance)
        slots = {column: state.slots(frame, column, reads) for column in state.buckets}
        parts: list[GroupedPart | None] = []
        for start, end in pairwise(bounds):
            rows = slice(start, end)
            groups: dict[str, dict[str, Counts]] = {}
            for column, buckets in state.buckets.items():
                counts = counts_by_group(
                    arrays.take(rows), state.performance, slots[column][rows], len(buckets)
                )
                groups[column] = {
                    bucket: item for bucket, item in zip(buckets, counts, strict=True) if item.rows
                }
            parts.append(cls(groups))
        return parts

    def __add__(self, other: GroupedPart) -> GroupedPart:
        if type(other) is not type(self) or set(other.groups) != set(self.groups):
            raise SchemaError(f"{self.name} parts built against different references cannot be added")
        groups: dict[str, dict[str, Counts]] = {}
        for column, mine in self.groups.items():
            merged = dict(mine)
            for value, counts in other.groups[column].items():
                merged[value] = merged[value] + counts if value in merged else counts  # type: ignore[operator]
            groups[column] = merged
        return type(self)(groups)

    def to_dict(self) -> dict[str, Any]:
        return {
            column: {value: counts.to_dict() for value, counts in values.items()}
            for column, values in self.groups.items()
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroupedPart:
        return cls(
            {
                column: {value: counts_from_dict(counts) for value, counts in values.items()}
                for column, values in data.items()
            }
        )


class SegmentsPart(GroupedPart):
    """The ``segments`` part: the model's counts per value of each segment column."""

    name = "segments"
    role = "segments"


def _degradation(current: Counts, reference: Counts) -> dict[str, Any]:
    """How much worse the segment is than on the reference, its z-score and whether it is degraded."""
    now, before = current.metrics(), reference.metrics()
    if isinstance(current, ClassificationCounts):
        a1, a0 = now["accuracy"], before["accuracy"]
        assert a1 is not None and a0 is not None
        drop = a0 - a1
        error = np.sqrt(a1 * (1 - a1) / current.labelled + a0 * (1 - a0) / reference.labelled)
        z = drop / error if error > 0 else (np.inf if drop > 0 else 0.0)
        large = drop >= DEFAULT_ACCURACY_DROP
        return {
            "metric": "accuracy",
            "degradation": drop,
            "z": float(z),
            "degraded": bool(large and z >= Z_DEGRADED),
        }
    m1, m0 = now["mae"], before["mae"]
    assert m1 is not None and m0 is not None
    increase = (m1 - m0) / m0 if m0 > 0 else (np.inf if m1 > 0 else 0.0)
    assert isinstance(current, RegressionCounts) and isinstance(reference, RegressionCounts)
    error = float(np.hypot(current.mae_standard_error() or 0.0, reference.mae_standard_error() or 0.0))
    z = (m1 - m0) / error if error > 0 else (np.inf if m1 > m0 else 0.0)
    large = increase >= DEFAULT_MAE_INCREASE
    return {
        "metric": "mae",
        "degradation": float(increase),
        "z": float(z),
        "degraded": bool(large and z >= Z_DEGRADED),
    }


def grouped_values(
    current: Mapping[str, Counts], reference: Mapping[str, Counts]
) -> list[tuple[str, Counts, Counts]]:
    """``(value, current counts, reference counts)`` per bucket seen on either side, in reference order."""
    template = next(iter(reference.values()), None) or next(iter(current.values()), None)
    if template is None:
        return []
    empty = template.empty_like()
    order = list(dict.fromkeys([*reference, *current]))
    return [(value, current.get(value, empty), reference.get(value, empty)) for value in order]


def segments_section(inputs: ReportInputs) -> dict[str, Any]:
    """The ``segments`` report section: performance per segment, and drift per segment
    (:mod:`modelmon.engine.segment_drift`), which needs no prediction or target."""
    from modelmon.engine.segment_drift import DEFAULT_MIN_DRIFT_ROWS, segment_drift
    from modelmon.engine.segment_drift_memo import SegmentDriftMemo

    schema = inputs.schema
    if not schema.segments:
        return not_applicable("the schema names no segment columns")
    min_rows = int(inputs.options.get("min_segment_rows", DEFAULT_MIN_DRIFT_ROWS))
    memo = None if inputs.memo is None else inputs.memo.setdefault("segment_drift", SegmentDriftMemo())
    drift = segment_drift(inputs.reference, inputs.current, inputs.drift, min_rows, memo)
    performance = _performance_by_segment(inputs)
    if performance.get("applicable"):
        return {**performance, **drift}
    if drift["drift"].get("applicable") is False:
        return {**performance, **drift}
    return {
        "applicable": True,
        "task": schema.task,
        "metric": "accuracy" if schema.task == "classification" else "mae",
        "performance_reason": performance["reason"],
        "columns": {},
        "worst": [],
        "degraded": [],
        **drift,
    }


def _performance_by_segment(inputs: ReportInputs) -> dict[str, Any]:
    """The model's metrics per segment value, the worst ranked, or why they cannot be measured."""
    schema = inputs.schema
    if schema.prediction is None or schema.target is None:
        return not_applicable("segments need a prediction and a target column in the schema")
    current, reference = inputs.current.parts.get("segments"), inputs.reference.parts.get("segments")
    absent = absent_part(inputs, "segments", "per-segment counts")
    if absent:
        return not_applicable(absent)
    assert current is not None and reference is not None
    if not any(c.labelled for values in current.groups.values() for c in values.values()):
        return not_applicable("no labelled rows in the current data yet")
    min_rows = int(inputs.options.get("min_segment_rows", DEFAULT_MIN_ROWS))
    columns: dict[str, Any] = {}
    ranked: list[dict[str, Any]] = []
    for column in current.groups:
        values: dict[str, Any] = {}
        too_small: list[str] = []
        for value, now, before in grouped_values(current.groups[column], reference.groups.get(column, {})):
            metrics, base = now.metrics(), before.metrics()
            delta, _ = compare_metrics(metrics, base)
            entry = {
                "rows": now.rows,
                "labelled_rows": now.labelled,
                "reference_labelled_rows": before.labelled,
                "metrics": metrics,
                "reference": base,
                "delta": delta,
            }
            if now.labelled < min_rows or before.labelled < min_rows:
                entry["too_small"] = True
                too_small.append(value)
            else:
                entry.update(_degradation(now, before))
                ranked.append({"column": column, "value": value, **_summary(entry)})
            values[value] = entry
        columns[column] = {"values": values, "too_small": too_small}
    ranked.sort(key=lambda item: -item["degradation"])
    return {
        "applicable": True,
        "task": schema.task,
        "metric": "accuracy" if schema.task == "classification" else "mae",
        "min_segment_rows": min_rows,
        "columns": columns,
        "worst": ranked[:10],
        "degraded": [
            {"column": item["column"], "value": item["value"]} for item in ranked if item["degraded"]
        ],
    }


def _summary(entry: Mapping[str, Any]) -> dict[str, Any]:
    metric = entry["metric"]
    return {
        "metric": metric,
        "current": entry["metrics"][metric],
        "reference": entry["reference"][metric],
        "degradation": entry["degradation"],
        "z": entry["z"],
        "degraded": entry["degraded"],
        "labelled_rows": entry["labelled_rows"],
    }
