"""Data drift per segment: each segment's features against the same segment of the reference.

For every segment column the ``segment_drift`` part keeps, per bucket (the column's ``TOP_VALUES``
most frequent reference values, ``"other"`` and ``"missing"``, as the performance-per-segment part
does), the summaries of every feature over the spec's own cells and categories. The segment's drift
is then the engine's ordinary drift test (:func:`~modelmon.engine.drift.data_drift`) between the
segment's reference summaries and its current ones, so it equals the drift of the segment's raw rows
profiled alone. A shift confined to one segment shows there even when it is too small a share of
all rows to move the whole-dataset verdict.

Summaries are stored sparse (only the cells that hold values), so a bucket of a sliding window costs
memory in proportion to its rows, and a batch profile at most the buckets times the cells; parts add
like every other part, so batch reports, windows and distributed runs all have them. The segment
column itself is left out of its own segments' drift (inside a segment it is one value).

>>> import numpy as np, pandas as pd
>>> from modelmon.engine.profile import ProfileSpec
>>> from modelmon.schema import Schema
>>> rng = np.random.default_rng(0)
>>> def frame(shift_in_b):
...     zone = rng.choice(["a", "b", "c"], 3000)
...     x = rng.normal(0, 1, 3000) + np.where(zone == "b", shift_in_b, 0.0)
...     return pd.DataFrame({"x": x.round(2), "zone": zone})
>>> spec = ProfileSpec.fit(frame(0.0), Schema(numerical=["x"], segments=["zone"]), parts=["segment_drift"])
>>> result = segment_drift(spec.profile(frame(0.0)), spec.profile(frame(shift_in_b=1.0)))
>>> {value: entry["dataset_drift"] for value, entry in sorted(result["drift"]["zone"].items())}
{'a': False, 'b': True, 'c': False}
>>> result["drift_ranking"][0]["segment"]
'zone=b'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np

from modelmon.config import DriftSettings
from modelmon.engine.buckets import bucket_slots, segment_buckets
from modelmon.engine.category_counts import prune_names
from modelmon.engine.columns import (
    CategoricalColumn,
    NumericalColumn,
    category_labels,
    parsed_numbers,
    sum_all,
)
from modelmon.errors import SchemaError

if TYPE_CHECKING:
    import pandas as pd

    from modelmon.engine.profile import Profile, ProfileSpec
    from modelmon.engine.segment_drift_memo import SegmentDriftMemo

__all__ = [
    "DEFAULT_MIN_DRIFT_ROWS",
    "SegmentDriftPart",
    "SegmentDriftState",
    "SparseCategorical",
    "SparseNumerical",
    "segment_drift",
]

#: fewest rows a segment needs, here and on the reference, for its drift to be tested
DEFAULT_MIN_DRIFT_ROWS = 30


def _merge(
    slots: tuple[np.ndarray, ...], *values: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Union of slot arrays (non-negative, repeats allowed) and each value array summed over it."""
    joined = np.concatenate(slots)
    if len(joined) == 0:
        return joined, [np.concatenate(pair).astype(np.float64) for pair in values]
    # the slots are cell numbers, at most a few thousand: counted into a vector, not sorted
    size = int(joined.max()) + 1
    summed = [np.bincount(joined, weights=np.concatenate(pair), minlength=size) for pair in values]
    union = np.flatnonzero(np.bincount(joined, minlength=size))
    return union, [total[union] for total in summed]


@dataclass
class SparseNumerical:
    """A :class:`~modelmon.engine.columns.NumericalColumn` keeping only its non-empty cells."""

    cells: np.ndarray
    counts: np.ndarray
    sums: np.ndarray
    totals: dict[str, float] = field(default_factory=dict)

    _TOTALS = ("count", "missing", "type_errors", "min", "max", "sum", "sum_sq")

    @classmethod
    def of(cls, column: NumericalColumn) -> SparseNumerical:
        cells = np.flatnonzero(column.cell_counts)
        totals = {name: getattr(column, name) for name in cls._TOTALS}
        return cls(cells, column.cell_counts[cells], column.cell_sums[cells], totals)

    def dense(self, edges: np.ndarray) -> NumericalColumn:
        column = NumericalColumn.empty(edges)
        column.cell_counts[self.cells] = self.counts
        column.cell_sums[self.cells] = self.sums
        for name in ("count", "missing", "type_errors"):
            setattr(column, name, int(self.totals[name]))
        for name in ("min", "max", "sum", "sum_sq"):
            setattr(column, name, float(self.totals[name]))
        return column

    def __add__(self, other: SparseNumerical) -> SparseNumerical:
        return SparseNumerical.total((self, other))

    @classmethod
    def total(cls, summaries: Sequence[SparseNumerical]) -> SparseNumerical:
        """The sum of many summaries (a window's buckets), their cells added up at once."""
        first = summaries[0]
        if len(summaries) == 1:
            return first
        totals = {
            name: sum(s.totals[name] for s in summaries)
            for name in ("count", "missing", "type_errors", "sum", "sum_sq")
        }
        totals["min"] = min(s.totals["min"] for s in summaries)
        totals["max"] = max(s.totals["max"] for s in summaries)
        cells, (counts, sums) = _merge(
            tuple(s.cells for s in summaries),
            tuple(s.counts for s in summaries),
            tuple(s.sums for s in summaries),
        )
        return SparseNumerical(cells, counts.astype(np.int64), sums, totals)

    def to_dict(self) -> dict[str, Any]:
        finite = {name: value if np.isfinite(value) else None for name, value in self.totals.items()}
        return {
            "kind": "numerical",
            "cells": self.cells.tolist(),
            "counts": self.counts.tolist(),
            "sums": self.sums.tolist(),
            **finite,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SparseNumerical:
        totals = {name: data[name] for name in cls._TOTALS}
        totals["min"] = float("inf") if totals["min"] is None else totals["min"]
        totals["max"] = float("-inf") if totals["max"] is None else totals["max"]
        return cls(
            np.asarray(data["cells"], dtype=np.int64),
            np.asarray(data["counts"], dtype=np.int64),
            np.asarray(data["sums"], dtype=np.float64),
            totals,
        )


@dataclass
class SparseCategorical:
    """A :class:`~modelmon.engine.columns.CategoricalColumn` (sparse already) held without its
    category names, so that the part serializes alone; :meth:`dense` gives them back."""

    column: CategoricalColumn

    @classmethod
    def of(cls, column: CategoricalColumn) -> SparseCategorical:
        return cls(replace(column, values=()))

    def dense(self, values: tuple[str, ...]) -> CategoricalColumn:
        return replace(self.column, values=values)

    def __add__(self, other: SparseCategorical) -> SparseCategorical:
        return SparseCategorical(self.column + other.column)

    @classmethod
    def total(cls, summaries: Sequence[SparseCategorical]) -> SparseCategorical:
        return cls(CategoricalColumn.total([summary.column for summary in summaries]))

    def to_dict(self) -> dict[str, Any]:
        return self.column.to_dict()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SparseCategorical:
        slots = np.asarray(data["slots"], dtype=np.int64)
        counts = np.asarray(data["slot_counts"], dtype=np.int64)
        if len(slots) != len(counts):
            raise SchemaError("a per-segment categorical summary has unmatched slots and counts")
        return cls(
            CategoricalColumn(
                (),
                int(data["size"]),
                slots,
                counts,
                dict(data["unseen"]),
                int(data["missing"]),
                int(data["type_errors"]),
                int(data.get("unseen_error", 0)),
            )
        )


Sparse = SparseNumerical | SparseCategorical


def _sparse_from_dict(data: Mapping[str, Any]) -> Sparse:
    if data["kind"] == "numerical":
        return SparseNumerical.from_dict(data)
    return SparseCategorical.from_dict(data)


def _reader(spec: ProfileSpec, frame: pd.DataFrame, name: str) -> Callable[[np.ndarray], Sparse]:
    """A function from row positions of ``frame`` to the sparse summary of column ``name`` over them,
    equal to profiling those rows alone (the same parsing as
    :func:`~modelmon.engine.columns.numeric_values` and :meth:`CategoricalColumn.from_codes`)."""
    import pandas as pd

    if name not in frame.columns:
        empty = spec.column_summary(frame.iloc[:0], name)
        return lambda where: (
            SparseNumerical.of(empty) if isinstance(empty, NumericalColumn) else SparseCategorical.of(empty)
        )
    series = frame[name]
    if name in spec.edges:
        edges, lookup = spec.edges[name], spec._lookup(name)
        parsed, missing = parsed_numbers(series)
        finite = np.isfinite(parsed)

        def numerical(where: np.ndarray) -> Sparse:
            kept = finite[where]
            lost = int(missing[where].sum())
            values = parsed[where][kept]
            column = NumericalColumn.from_values(edges, values, lost, len(where) - len(values) - lost, lookup)
            return SparseNumerical.of(column)

        return numerical
    values, tail = spec.categories[name], spec.tails.get(name)
    codes, labels, _ = category_labels(series)
    # each label's slot, as CategoricalColumn.from_codes finds it: a reference category, a tail
    # bucket, or the last slot (a new value)
    size = CategoricalColumn.empty(values, tail).size
    label_slot = spec._index(name).get_indexer(pd.Index(labels, dtype=object)).astype(np.int64)
    unknown = np.flatnonzero(label_slot < 0)
    if len(unknown) and tail is not None:
        bucket = tail.bucket_of([labels[i] for i in unknown])
        label_slot[unknown] = np.where(bucket >= 0, len(values) + bucket, size - 1)
    elif len(unknown):
        label_slot[unknown] = size - 1
    new_labels = np.flatnonzero(label_slot == size - 1)

    def categorical(where: np.ndarray) -> Sparse:
        mine = codes[where]
        present = mine[mine >= 0]
        per_label = np.bincount(present, minlength=len(labels))
        counts = np.bincount(label_slot, weights=per_label, minlength=size).astype(np.int64)
        slots = np.flatnonzero(counts)
        new = {labels[i]: int(per_label[i]) for i in new_labels.tolist() if per_label[i]}
        unseen, error = prune_names(new, 0)
        missing = len(mine) - len(present)
        return SparseCategorical(CategoricalColumn((), size, slots, counts[slots], unseen, missing, 0, error))

    return categorical


def _numerical_totals(groups: Sequence[Sequence[SparseNumerical]]) -> list[SparseNumerical]:
    """:meth:`SparseNumerical.total` of each group (one feature of several segment values), their
    cells added up in one count over (group, cell) instead of one per group: each cell's sum takes
    its pieces in the same order, so the numbers are the same."""
    flat = [summary for group in groups for summary in group]
    cells = np.concatenate([summary.cells for summary in flat])
    size = int(cells.max()) + 1 if len(cells) else 1
    owner = np.repeat(
        np.arange(len(groups)), [sum(len(summary.cells) for summary in group) for group in groups]
    )
    keys = owner * size + cells
    # the keys are few (a few hundred cells a segment value) against groups x cells: sorted, not counted
    union, place = np.unique(keys, return_inverse=True)
    counts = np.bincount(
        place, weights=np.concatenate([summary.counts for summary in flat]), minlength=len(union)
    )
    sums = np.bincount(
        place, weights=np.concatenate([summary.sums for summary in flat]), minlength=len(union)
    )
    counts = counts.astype(np.int64)
    bounds = np.searchsorted(union, np.arange(len(groups) + 1) * size).tolist()
    summed = []
    for number, group in enumerate(groups):
        start, end = bounds[number], bounds[number + 1]
        totals = {
            name: sum(summary.totals[name] for summary in group)
            for name in ("count", "missing", "type_errors", "sum", "sum_sq")
        }
        totals["min"] = min(summary.totals["min"] for summary in group)
        totals["max"] = max(summary.totals["max"] for summary in group)
        summed.append(
            SparseNumerical(union[start:end] - number * size, counts[start:end], sums[start:end], totals)
        )
    return summed


def _summed(pieces: Mapping[str, Sequence[Mapping[str, Sparse]]]) -> dict[str, dict[str, Sparse]]:
    """Each segment value's summaries added up feature by feature, as :func:`sum_all` adds them;
    the numerical ones of each feature across all values at once."""
    summed: dict[str, dict[str, Sparse]] = {}
    numerical: dict[str, list[tuple[str, list[SparseNumerical]]]] = {}
    for bucket, dicts in pieces.items():
        own: dict[str, Sparse] = {}
        for name in dict.fromkeys(name for summaries in dicts for name in summaries):
            group = [summaries[name] for summaries in dicts if name in summaries]
            if len(group) > 1 and all(isinstance(summary, SparseNumerical) for summary in group):
                own[name] = group[0]  # its place; the sum follows
                numerical.setdefault(name, []).append((bucket, group))  # type: ignore[arg-type]
            else:
                own[name] = sum_all(group)
        summed[bucket] = own
    for name, groups in numerical.items():
        for (bucket, _), total in zip(groups, _numerical_totals([group for _, group in groups]), strict=True):
            summed[bucket][name] = total
    return summed


@dataclass(frozen=True)
class SegmentDriftState:
    """Each segment column's buckets and the features profiled per bucket."""

    buckets: dict[str, tuple[str, ...]]
    columns: dict[str, tuple[str, ...]]

    @classmethod
    def fit(cls, reference: pd.DataFrame, spec: ProfileSpec) -> SegmentDriftState | None:
        segments = [name for name in spec.schema.segments if name in reference.columns]
        profiled = set(spec.columns)
        buckets, columns = {}, {}
        for segment in segments:
            features = tuple(name for name in spec.schema.features if name != segment and name in profiled)
            if not features:
                continue
            buckets[segment] = segment_buckets(reference, segment)
            columns[segment] = features
        return cls(buckets, columns) if buckets else None

    def slots(self, frame: pd.DataFrame, segment: str) -> np.ndarray:
        return bucket_slots(frame, segment, self.buckets[segment])


@dataclass
class SegmentDriftPart:
    """Per segment column, per bucket: its rows and each feature's sparse summary."""

    rows: dict[str, dict[str, int]]
    columns: dict[str, dict[str, dict[str, Sparse]]]

    @classmethod
    def fit(cls, reference: pd.DataFrame, spec: ProfileSpec) -> SegmentDriftState | None:
        return SegmentDriftState.fit(reference, spec)

    @classmethod
    def build(cls, frame: pd.DataFrame, spec: ProfileSpec) -> SegmentDriftPart | None:
        return cls.build_slices(frame, spec, [0, len(frame)])[0]

    @classmethod
    def build_slices(
        cls, frame: pd.DataFrame, spec: ProfileSpec, slices: Sequence[int]
    ) -> list[SegmentDriftPart | None]:
        """The part of each slice ``frame.iloc[slices[i]:slices[i + 1]]``, as :meth:`build` of it alone."""
        state = spec.state.get("segment_drift")
        if not isinstance(state, SegmentDriftState):
            return [None] * (len(slices) - 1)
        # each column is read once (parsed or factorized) and then summarised per bucket from arrays
        readers = {
            name: _reader(spec, frame, name) for name in dict.fromkeys(sum(state.columns.values(), ()))
        }
        all_slots = {segment: state.slots(frame, segment) for segment in state.buckets}
        parts: list[SegmentDriftPart | None] = []
        for first, last in pairwise(slices):
            rows: dict[str, dict[str, int]] = {}
            columns: dict[str, dict[str, dict[str, Sparse]]] = {}
            for segment, buckets in state.buckets.items():
                slots = all_slots[segment][first:last]
                order = np.argsort(slots, kind="stable")
                bounds = np.searchsorted(slots[order], np.arange(len(buckets) + 1))
                order += first
                rows[segment], columns[segment] = {}, {}
                for i, bucket in enumerate(buckets):
                    start, end = int(bounds[i]), int(bounds[i + 1])
                    if start == end:
                        continue
                    where = order[start:end]
                    summaries = {name: readers[name](where) for name in state.columns[segment]}
                    rows[segment][bucket], columns[segment][bucket] = end - start, summaries
            parts.append(cls(rows, columns))
        return parts

    def __add__(self, other: SegmentDriftPart) -> SegmentDriftPart:
        return SegmentDriftPart.total((self, other))

    @classmethod
    def total(cls, parts: Sequence[SegmentDriftPart]) -> SegmentDriftPart:
        """The sum of many parts (a window's buckets): each feature's numerical summaries of every
        segment value added up at once (:func:`_numerical_totals`), the others per value."""
        first = parts[0]
        if any(not isinstance(part, SegmentDriftPart) or set(part.rows) != set(first.rows) for part in parts):
            raise SchemaError("segment drift parts built against different references cannot be added")
        rows: dict[str, dict[str, int]] = {segment: {} for segment in first.rows}
        columns: dict[str, dict[str, dict[str, Sparse]]] = {}
        for segment in first.rows:
            pieces: dict[str, list[dict[str, Sparse]]] = {}
            for part in parts:
                for bucket, count in part.rows[segment].items():
                    rows[segment][bucket] = rows[segment].get(bucket, 0) + count
                    pieces.setdefault(bucket, []).append(part.columns[segment][bucket])
            columns[segment] = _summed(pieces)
        return cls(rows, columns)

    def to_dict(self) -> dict[str, Any]:
        return {
            segment: {
                bucket: {
                    "rows": count,
                    "columns": {
                        name: summary.to_dict() for name, summary in self.columns[segment][bucket].items()
                    },
                }
                for bucket, count in values.items()
            }
            for segment, values in self.rows.items()
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SegmentDriftPart:
        rows = {
            segment: {bucket: int(entry["rows"]) for bucket, entry in values.items()}
            for segment, values in data.items()
        }
        columns = {
            segment: {
                bucket: {name: _sparse_from_dict(summary) for name, summary in entry["columns"].items()}
                for bucket, entry in values.items()
            }
            for segment, values in data.items()
        }
        return cls(rows, columns)

    def segment_profile(self, spec: ProfileSpec, segment: str, bucket: str) -> Profile:
        """The profile of the rows of one segment (its features only), for the drift tests."""
        dense: dict[str, NumericalColumn | CategoricalColumn] = {}
        for name, summary in self.columns.get(segment, {}).get(bucket, {}).items():
            if isinstance(summary, SparseNumerical):
                dense[name] = summary.dense(spec.edges[name])
            else:
                dense[name] = summary.dense(spec.categories[name])
        return spec.assemble(self.rows.get(segment, {}).get(bucket, 0), dense)


def _measured(result: Any, rows: int, reference_rows: int) -> dict[str, Any]:
    drifted = [column.column for column in result.tested_features if column.detected]
    return {
        "rows": rows,
        "reference_rows": reference_rows,
        "dataset_drift": result.dataset_drift,
        "drifted_share": result.drifted_share,
        "drifted_columns": drifted,
        "columns": {
            name: {
                "method": column.method,
                "score": column.to_dict()["score"],
                "threshold": column.threshold,
                "detected": column.detected,
                "p_value": column.p_value,
            }
            for name, column in result.columns.items()
        },
    }


def segment_drift(
    reference: Profile,
    current: Profile,
    settings: DriftSettings | None = None,
    min_rows: int = DEFAULT_MIN_DRIFT_ROWS,
    memo: SegmentDriftMemo | None = None,
) -> dict[str, Any]:
    """``{"drift": {column: {value: ...}}, "drift_ranking": [...], "drift_too_small": {column: [...]}}``.

    Segments with fewer than ``min_rows`` rows on either side are listed as too small, untested.
    Raises nothing on missing parts: the block then says why it does not apply. With a ``memo``
    (:mod:`~modelmon.engine.segment_drift_memo`), a segment value whose inputs are those of the
    previous call gets that call's result back instead of being tested again.
    """
    from modelmon.engine.drift import data_drift

    spec = reference.spec
    state = spec.state.get("segment_drift")
    before, now = reference.parts.get("segment_drift"), current.parts.get("segment_drift")
    if not isinstance(state, SegmentDriftState) or before is None:
        reason = "the reference profile carries no per-segment column summaries"
        return {"drift": {"applicable": False, "reason": reason}, "drift_ranking": [], "drift_too_small": {}}
    if now is None:
        reason = (
            "no rows in the current data yet"
            if not current.rows
            else "the current profile carries no per-segment column summaries"
        )
        return {"drift": {"applicable": False, "reason": reason}, "drift_ranking": [], "drift_too_small": {}}
    settings = settings if settings is not None else DriftSettings()
    if memo is not None:
        memo.begin(before, settings, min_rows)
    drift: dict[str, dict[str, Any]] = {}
    too_small: dict[str, list[str]] = {}
    ranking: list[dict[str, Any]] = []
    for segment, buckets in state.buckets.items():
        names = state.columns[segment]
        own = replace(
            settings, columns={key: value for key, value in settings.columns.items() if key in names}
        )
        drift[segment], too_small[segment] = {}, []
        for bucket in buckets:
            rows, reference_rows = now.rows[segment].get(bucket, 0), before.rows[segment].get(bucket, 0)
            if not rows and not reference_rows:
                continue
            if rows < min_rows or reference_rows < min_rows:
                drift[segment][bucket] = {
                    "rows": rows,
                    "reference_rows": reference_rows,
                    "too_small": True,
                    "dataset_drift": None,
                    "drifted_share": None,
                    "drifted_columns": [],
                }
                too_small[segment].append(bucket)
                continue
            summaries = now.columns[segment].get(bucket, {})
            entry = None if memo is None else memo.get(segment, bucket, rows, summaries)
            if entry is None:
                result = data_drift(
                    before.segment_profile(spec, segment, bucket),
                    now.segment_profile(spec, segment, bucket),
                    own,
                )
                entry = _measured(result, rows, reference_rows)
                if memo is not None:
                    memo.put(segment, bucket, rows, summaries, entry)
            drift[segment][bucket] = entry
            ranking.append(
                {
                    "segment": f"{segment}={bucket}",
                    "column": segment,
                    "value": bucket,
                    "rows": rows,
                    "dataset_drift": entry["dataset_drift"],
                    "drifted_share": entry["drifted_share"],
                    "drifted_columns": entry["drifted_columns"],
                }
            )
    # a segment whose features could not be tested (share None) ranks last
    ranking.sort(
        key=lambda item: (item["drifted_share"] is None, -(item["drifted_share"] or 0.0), -item["rows"])
    )
    return {
        "drift": drift,
        "drift_ranking": ranking,
        "drift_too_small": too_small,
        "drift_min_rows": min_rows,
    }
