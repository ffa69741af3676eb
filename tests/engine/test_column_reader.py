"""A column read once gives, for any rows, the summary of those rows profiled alone; a few labels
found by position in a dict land in the slots an index of the categories gives them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelmon.engine.category_counts import CategoryTail
from modelmon.engine.column_reader import FEW_LABELS, CategoricalReader
from modelmon.engine.columns import CategoricalColumn, category_slots


@pytest.mark.parametrize("distinct", [30, FEW_LABELS, FEW_LABELS + 40])  # by dict, and by index
def test_categorical_rows_read_by_position_equal_them_profiled_alone(distinct):
    """Labels of the categories, of the tail's buckets and new ones, and missing values."""
    rng = np.random.default_rng(distinct)
    values = tuple(f"zone-{i}" for i in range(40))
    tail = CategoryTail.of([f"rare-{i}" for i in range(30)], buckets=4)
    sent = [*values[:10], *(f"rare-{i}" for i in range(10)), *(f"new-{i}" for i in range(distinct - 20))]
    series = pd.Series(np.array(sent, dtype=object)[rng.integers(0, distinct, 6_000)][:3_000], dtype=object)
    series[rng.random(3_000) < 0.05] = None
    index = pd.Index(values, dtype=object)
    positions = {label: i for i, label in enumerate(values)}
    reader = CategoricalReader(values, series, index, tail, positions)
    assert len(reader.labels) == distinct  # every label sent is among the rows
    by_index = category_slots(values, reader.labels, index, tail, reader.size - 1)
    np.testing.assert_array_equal(reader.label_slot, by_index)
    assert reader.label_slot.dtype == by_index.dtype
    for rows in (slice(0, 3_000), slice(7, 50), np.sort(rng.choice(3_000, 400, replace=False))):
        alone = CategoricalColumn.from_series(values, series.iloc[rows], index, tail)
        assert reader(rows).to_dict() == alone.to_dict()
