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

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from itertools import pairwise
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from modelmon.config import DriftSettings
from modelmon.engine.buckets import bucket_slots, segment_buckets
from modelmon.engine.column_reader import ColumnReader, NumericalReader, column_reader
from modelmon.engine.columns import CategoricalColumn, NumericalColumn
from modelmon.engine.segment_drift_reads import GroupReader, categorical_reads, numerical_reads
from modelmon.engine.segment_drift_sparse import Sparse, SparseCategorical, SparseNumerical, sparse_from_dict
from modelmon.engine.segment_drift_totals import summed
from modelmon.errors import SchemaError

if TYPE_CHECKING:
    import pandas as pd

    from modelmon.engine.drift import DriftResult
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


def _reader(
    spec: ProfileSpec, frame: pd.DataFrame, name: str, reads: Mapping[str, ColumnReader] | None = None
) -> GroupReader:
    """Column ``name``'s summaries over groups of rows of ``frame``, each equal to profiling the
    group's rows alone (:mod:`~modelmon.engine.segment_drift_reads`), from its reader in ``reads``
    when there is one (the column read already for the rows' profiles)."""
    if name not in frame.columns:
        empty = spec.column_summary(frame.iloc[:0], name)
        alone = (
            SparseNumerical.of(empty) if isinstance(empty, NumericalColumn) else SparseCategorical.of(empty)
        )
        return lambda order, bounds: [alone] * (len(bounds) - 1)
    source = reads[name] if reads is not None and name in reads else column_reader(spec, frame, name)
    if isinstance(source, NumericalReader):
        return numerical_reads(spec.edges[name], spec._lookup(name), source)
    return categorical_reads(spec.categories[name], spec._index(name), spec.tails.get(name), source)


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

    def slots(
        self, frame: pd.DataFrame, segment: str, reads: Mapping[str, ColumnReader] | None = None
    ) -> np.ndarray:
        return bucket_slots(frame, segment, self.buckets[segment], (reads or {}).get(segment))


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

    #: :func:`~modelmon.engine.slices.profile_slices` hands :meth:`build_slices` the frame's column reads
    takes_column_reads: ClassVar[bool] = True

    @classmethod
    def build_slices(
        cls,
        frame: pd.DataFrame,
        spec: ProfileSpec,
        slices: Sequence[int],
        reads: Mapping[str, ColumnReader] | None = None,
    ) -> list[SegmentDriftPart | None]:
        """The part of each slice ``frame.iloc[slices[i]:slices[i + 1]]``, as :meth:`build` of it alone;
        ``reads``: readers of ``frame``'s columns (:mod:`~modelmon.engine.column_reader`) to use."""
        state = spec.state.get("segment_drift")
        if not isinstance(state, SegmentDriftState):
            return [None] * (len(slices) - 1)
        # each column is read once (parsed or factorized) and then summarised per bucket from arrays
        readers = {
            name: _reader(spec, frame, name, reads) for name in dict.fromkeys(sum(state.columns.values(), ()))
        }
        all_slots = {segment: state.slots(frame, segment, reads) for segment in state.buckets}
        parts: list[SegmentDriftPart | None] = []
        for first, last in pairwise(slices):
            rows: dict[str, dict[str, int]] = {}
            columns: dict[str, dict[str, dict[str, Sparse]]] = {}
            for segment, buckets in state.buckets.items():
                slots = all_slots[segment][first:last]
                order = np.argsort(slots, kind="stable")
                bounds = np.searchsorted(slots[order], np.arange(len(buckets) + 1))
                order += first
                present = [i for i in range(len(buckets)) if bounds[i] < bounds[i + 1]]
                cuts = np.append(bounds[present], bounds[-1])
                # each feature read for every segment value of the slice at once
                read = {name: readers[name](order, cuts) for name in state.columns[segment]}
                rows[segment], columns[segment] = {}, {}
                for number, i in enumerate(present):
                    rows[segment][buckets[i]] = int(bounds[i + 1] - bounds[i])
                    columns[segment][buckets[i]] = {
                        name: read[name][number] for name in state.columns[segment]
                    }
            parts.append(cls(rows, columns))
        return parts

    def __add__(self, other: SegmentDriftPart) -> SegmentDriftPart:
        return SegmentDriftPart.total((self, other))

    @classmethod
    def total(cls, parts: Sequence[SegmentDriftPart]) -> SegmentDriftPart:
        """The sum of many parts (a window's buckets): every feature's summaries of every segment
        value added up at once (:mod:`~modelmon.engine.segment_drift_totals`)."""
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
            columns[segment] = summed(pieces)
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
                bucket: {name: sparse_from_dict(summary) for name, summary in entry["columns"].items()}
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


def _finite(score: float | None) -> float | None:
    """A score as a result's JSON gives it (:meth:`~modelmon.engine.drift.ColumnDrift.to_dict`):
    an infinite one is None."""
    return score if score is None or math.isfinite(score) else None


def _measured(result: DriftResult, rows: int, reference_rows: int) -> dict[str, Any]:
    # the result's properties, each of which gathers the tested features again, read from one list
    tested = result.tested_features
    drifted = [column.column for column in tested if column.detected]
    share = len(drifted) / len(tested) if tested else None
    verdict = None if result.insufficient_data or share is None else share >= result.share_threshold
    return {
        "rows": rows,
        "reference_rows": reference_rows,
        "dataset_drift": verdict,
        "drifted_share": share,
        "drifted_columns": drifted,
        "columns": {
            name: {
                "method": column.method,
                "score": _finite(column.score),
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
                reference_profile = (
                    before.segment_profile(spec, segment, bucket)
                    if memo is None
                    else memo.reference_profile(
                        segment, bucket, partial(before.segment_profile, spec, segment, bucket)
                    )
                )
                result = data_drift(
                    reference_profile,
                    now.segment_profile(spec, segment, bucket),
                    own,
                    choices=None if memo is None else memo.choices(segment, bucket),
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
