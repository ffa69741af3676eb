"""One column of a frame read once, then summarised over any of its row slices.

Profiling many slices of one frame (the buckets a window's new rows fall in) one after another
pays the reading of each column (parsing, factorizing, looking up cells) once per slice. A reader
parses or factorizes the whole column once; each slice is then a few numpy reductions, and its
summary is equal to profiling the slice's rows alone
(:func:`~modelmon.engine.columns.numeric_values` and :meth:`CategoricalColumn.from_codes` read them
the same way).

>>> import pandas as pd
>>> edges = np.array([1.0, 2.0, 3.0])
>>> read = numerical_reader(edges, pd.Series([0.5, None, 2.0, "x", 7.0], dtype=object))
>>> whole, tail = read(slice(0, 5)), read(slice(2, 5))
>>> whole.count, whole.missing, whole.type_errors, tail.count, tail.min
(3, 1, 1, 2, 2.0)
>>> tail.to_dict() == NumericalColumn.from_series(edges, pd.Series([2.0, "x", 7.0], dtype=object)).to_dict()
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from modelmon.engine.category_counts import CategoryTail, prune_names
from modelmon.engine.cells import EdgeLookup
from modelmon.engine.columns import (
    CategoricalColumn,
    NumericalColumn,
    category_labels,
    category_slots,
    parsed_numbers,
)

__all__ = ["categorical_reader", "numerical_reader"]

#: which rows of the frame: a slice, or an array of positions
Rows = slice | np.ndarray


def numerical_reader(
    edges: np.ndarray, series: pd.Series, lookup: EdgeLookup | None = None
) -> Callable[[Rows], NumericalColumn]:
    """A function from rows of ``series`` to their :class:`NumericalColumn`, equal to
    ``NumericalColumn.from_series(edges, series.iloc[rows], lookup)``."""
    parsed, missing = parsed_numbers(series)
    finite = np.isfinite(parsed)

    def read(rows: Rows) -> NumericalColumn:
        values, kept = parsed[rows], finite[rows]
        if not kept.all():
            values = values[kept]
        lost = int(missing[rows].sum())
        return NumericalColumn.from_values(edges, values, lost, len(kept) - len(values) - lost, lookup)

    return read


def categorical_reader(
    values: tuple[str, ...],
    series: pd.Series,
    index: Mapping[str, int] | pd.Index | None = None,
    tail: CategoryTail | None = None,
) -> Callable[[Rows], CategoricalColumn]:
    """A function from rows of ``series`` to their :class:`CategoricalColumn`, equal to
    ``CategoricalColumn.from_series(values, series.iloc[rows], index, tail)``."""
    codes, labels, _ = category_labels(series)
    size = CategoricalColumn.empty(values, tail).size
    new_slot = size - 1
    label_slot = category_slots(values, labels, index, tail, new_slot)
    new_labels = np.flatnonzero(label_slot == new_slot).tolist()

    def read(rows: Rows) -> CategoricalColumn:
        mine = codes[rows]
        present = mine[mine >= 0]
        column = CategoricalColumn.empty(values, tail)
        column.missing = len(mine) - len(present)
        if not len(present):
            return column
        per_label = np.bincount(present, minlength=len(labels))
        counts = np.bincount(label_slot, weights=per_label, minlength=size).astype(np.int64)
        column.slots = np.flatnonzero(counts)
        column.slot_counts = counts[column.slots]
        new: dict[str, int] = {}
        for i in new_labels:
            if per_label[i]:
                new[labels[i]] = new.get(labels[i], 0) + int(per_label[i])
        column.unseen, column.unseen_error = prune_names(new, 0)
        return column

    return read
