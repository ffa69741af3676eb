"""The per-segment drift part's summaries: sparse numerical and categorical column summaries.

A segment value's feature keeps only the cells that hold values, so a bucket of a sliding window
costs memory in proportion to its rows. :mod:`~modelmon.engine.segment_drift_totals` adds up the
summaries of many parts (a window's buckets).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from modelmon.engine.columns import CategoricalColumn, NumericalColumn
from modelmon.errors import SchemaError

__all__ = ["Sparse", "SparseCategorical", "SparseNumerical", "sparse_from_dict"]


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
        """The column over every cell of ``edges`` (a recompute makes one per feature of each
        segment value it tests: built in one call, not filled in field by field)."""
        counts = np.zeros(2 * len(edges) + 1, dtype=np.int64)
        sums = np.zeros(len(counts), dtype=np.float64)
        counts[self.cells] = self.counts
        sums[self.cells] = self.sums
        totals = self.totals
        return NumericalColumn(
            edges,
            counts,
            sums,
            count=int(totals["count"]),
            missing=int(totals["missing"]),
            type_errors=int(totals["type_errors"]),
            min=float(totals["min"]),
            max=float(totals["max"]),
            sum=float(totals["sum"]),
            sum_sq=float(totals["sum_sq"]),
        )

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
        column = self.column  # as dataclasses.replace(column, values=values), in a tenth of its time
        return CategoricalColumn(
            values,
            column.size,
            column.slots,
            column.slot_counts,
            column.unseen,
            column.missing,
            column.type_errors,
            column.unseen_error,
        )

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


def sparse_from_dict(data: Mapping[str, Any]) -> Sparse:
    if data["kind"] == "numerical":
        return SparseNumerical.from_dict(data)
    return SparseCategorical.from_dict(data)
