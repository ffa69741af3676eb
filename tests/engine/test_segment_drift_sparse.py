"""A segment value's sparse summary gives back the very column it summarises: every cell, every
total and its type, built in one call as the field-by-field fill built it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from modelmon.engine.columns import CategoricalColumn, NumericalColumn
from modelmon.engine.segment_drift_sparse import SparseCategorical, SparseNumerical


def _filled(summary: SparseNumerical, edges: np.ndarray) -> NumericalColumn:
    """The column as it was filled field by field before."""
    column = NumericalColumn.empty(edges)
    column.cell_counts[summary.cells] = summary.counts
    column.cell_sums[summary.cells] = summary.sums
    for name in ("count", "missing", "type_errors"):
        setattr(column, name, int(summary.totals[name]))
    for name in ("min", "max", "sum", "sum_sq"):
        setattr(column, name, float(summary.totals[name]))
    return column


def _fields(column: NumericalColumn | CategoricalColumn) -> list[tuple[str, str, str]]:
    """Every field's value, type and (for arrays) dtype, a -0.0 told from a 0.0."""
    described = []
    for field in dataclasses.fields(column):
        value = getattr(column, field.name)
        kind = str(value.dtype) if isinstance(value, np.ndarray) else type(value).__name__
        shown = repr(value.tolist()) if isinstance(value, np.ndarray) else repr(value)
        described.append((field.name, kind, shown))
    return described


@pytest.mark.parametrize("seed", range(6))
def test_a_numerical_summary_gives_back_its_column_as_filled_field_by_field(seed):
    rng = np.random.default_rng(seed)
    edges = np.unique(rng.normal(0, 3, 60).round(1))
    values = rng.normal(0, 3, int(rng.integers(0, 300))).round(int(rng.integers(0, 3)))
    values[: int(rng.integers(0, 3))] = -0.0
    column = NumericalColumn.from_values(edges, values, int(rng.integers(0, 5)), int(rng.integers(0, 5)))
    summary = SparseNumerical.of(column)
    if seed % 2:  # totals as a stored part reads them back: ints where they were integral
        summary.totals = {name: int(v) if float(v).is_integer() else v for name, v in summary.totals.items()}
    dense = summary.dense(edges)
    assert _fields(dense) == _fields(_filled(summary, edges)) == _fields(column)


def test_a_categorical_summary_gives_back_its_column_with_the_names():
    values = ("a", "b", "c")
    column = CategoricalColumn(values, 4, np.array([0, 3]), np.array([5, 2]), {"new": 2}, 1, 3, 0)
    summary = SparseCategorical.of(column)
    assert _fields(summary.dense(values)) == _fields(dataclasses.replace(summary.column, values=values))
    assert _fields(summary.dense(values)) == _fields(column)
