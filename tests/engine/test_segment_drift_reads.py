"""A feature's summaries over every segment value of a slice, read at once, equal the summaries of
each value's rows profiled alone: the same cells, counts and per-cell sums, and the same totals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelmon.engine.category_counts import CategoryTail
from modelmon.engine.cells import EdgeLookup
from modelmon.engine.columns import LOOKUP_BLOCK, CategoricalColumn, NumericalColumn
from modelmon.engine.segment_drift_reads import categorical_reads, numerical_reads
from modelmon.engine.segment_drift_sparse import SparseCategorical, SparseNumerical


def _groups(rng: np.random.Generator, rows: int, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Row positions grouped by a random segment value (each group's rows in order) and the bounds,
    with the first value absent."""
    value = rng.integers(1, groups, rows)
    order = np.argsort(value, kind="stable")
    present = np.unique(value)
    bounds = np.searchsorted(value[order], np.append(present, groups))
    return order, bounds


def _numbers(rng: np.random.Generator, rows: int) -> pd.Series:
    values = (rng.gamma(2.0, 3.0, rows) * 1.000001 + 1e-7).astype(object)  # sums whose order shows
    values[rng.random(rows) < 0.05] = None
    values[rng.random(rows) < 0.03] = "n/a"
    values[rng.random(rows) < 0.02] = np.inf
    values[rng.random(rows) < 0.01] = -0.0
    return pd.Series(values, dtype=object)


@pytest.mark.parametrize("rows", [40, 3_000, LOOKUP_BLOCK + 10])
def test_numerical_summaries_of_every_group_equal_each_group_profiled_alone(rows):
    rng = np.random.default_rng(rows)
    edges = np.unique(rng.gamma(2.0, 3.0, 400).round(1))
    lookup = EdgeLookup(edges)
    series = _numbers(rng, rows)
    series.iloc[:3] = None  # a group of missing values only, when the first rows form one
    order, bounds = _groups(rng, rows, 9)
    summaries = numerical_reads(edges, lookup, series)(order, bounds)
    assert len(summaries) == len(bounds) - 1
    for summary, start, end in zip(summaries, bounds[:-1], bounds[1:], strict=True):
        alone = NumericalColumn.from_series(edges, series.iloc[np.sort(order[start:end])], lookup)
        expected = SparseNumerical.of(alone)
        assert isinstance(summary, SparseNumerical)
        assert summary.totals == expected.totals
        assert [type(value) for value in summary.totals.values()] == [
            type(value) for value in expected.totals.values()
        ]
        for field in ("cells", "counts", "sums"):
            assert getattr(summary, field).dtype == getattr(expected, field).dtype
            np.testing.assert_array_equal(getattr(summary, field), getattr(expected, field))


@pytest.mark.parametrize("categories", [30, 70_000])  # counted densely, and by sorting the keys
def test_categorical_summaries_of_every_group_equal_each_group_profiled_alone(categories):
    rng = np.random.default_rng(4)
    values = tuple(f"zone-{i}" for i in range(categories))
    tail = CategoryTail.of([f"rare-{i}" for i in range(200)], buckets=8)
    labels = np.array([*values, *(f"rare-{i}" for i in range(200)), "new-a", "new-b"], dtype=object)
    series = pd.Series(labels[rng.integers(0, len(labels), 2_000)], dtype=object)
    series[rng.random(2_000) < 0.05] = None
    series.iloc[::97] = "new-a"  # new categories in some groups whatever the categories' number
    order, bounds = _groups(rng, 2_000, 12)
    index = pd.Index(values, dtype=object)
    summaries = categorical_reads(values, index, tail, series)(order, bounds)
    for summary, start, end in zip(summaries, bounds[:-1], bounds[1:], strict=True):
        alone = CategoricalColumn.from_series(values, series.iloc[np.sort(order[start:end])], index, tail)
        assert isinstance(summary, SparseCategorical)
        assert summary.to_dict() == SparseCategorical.of(alone).to_dict()
        assert summary.column.slots.dtype == np.int64
    assert any(summary.column.unseen for summary in summaries)


@pytest.mark.parametrize("seed", range(5))
def test_numerical_totals_of_small_groups_keep_each_groups_own_signs_of_zero(seed):
    """Every group's min and max are taken at once; a group of zeros of both signs, negative values
    and single values keeps the very floats its rows profiled alone give (``-0.0`` is not ``0.0``)."""
    rng = np.random.default_rng(seed)
    rows = 300
    values = rng.choice([-0.0, 0.0, -1.5, 2.25, 1e-300, -1e300], rows).astype(object)
    values[rng.random(rows) < 0.1] = None
    series = pd.Series(values, dtype=object)
    edges = np.array([-1.0, 0.0, 1.0])
    order, bounds = _groups(rng, rows, 80)  # about four rows a group, some of missing values only
    summaries = numerical_reads(edges, EdgeLookup(edges), series)(order, bounds)
    for summary, start, end in zip(summaries, bounds[:-1], bounds[1:], strict=True):
        alone = SparseNumerical.of(NumericalColumn.from_series(edges, series.iloc[np.sort(order[start:end])]))
        assert isinstance(summary, SparseNumerical)
        assert {key: repr(value) for key, value in summary.totals.items()} == {
            key: repr(value) for key, value in alone.totals.items()
        }
