"""One column of a frame read once, then summarised over any of its row slices.

Profiling many slices of one frame (the buckets a window's new rows fall in) one after another
pays the reading of each column (parsing, factorizing, looking up cells) once per slice. A reader
parses or factorizes the whole column once; each slice is then a few numpy reductions, and its
summary is equal to profiling the slice's rows alone
(:func:`~modelmon.engine.columns.numeric_values` and :meth:`CategoricalColumn.from_codes` read them
the same way).

>>> import pandas as pd
>>> edges = np.array([1.0, 2.0, 3.0])
>>> read = NumericalReader(edges, pd.Series([0.5, None, 2.0, "x", 7.0], dtype=object))
>>> whole, tail = read(slice(0, 5)), read(slice(2, 5))
>>> whole.count, whole.missing, whole.type_errors, tail.count, tail.min
(3, 1, 1, 2, 2.0)
>>> tail.to_dict() == NumericalColumn.from_series(edges, pd.Series([2.0, "x", 7.0], dtype=object)).to_dict()
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from modelmon.engine.profile import ProfileSpec

__all__ = ["CategoricalReader", "ColumnReader", "NumericalReader", "column_reader"]

#: which rows of the frame: a slice, or an array of positions
Rows = slice | np.ndarray
#: a column with at most this many distinct labels finds their categories one by one in a dict
FEW_LABELS = 256


class NumericalReader:
    """A function from rows of ``series`` to their :class:`NumericalColumn`, equal to
    ``NumericalColumn.from_series(edges, series.iloc[rows], lookup)``; its parsed values
    (``parsed``, ``missing``, ``finite``) serve other summaries of the column too."""

    def __init__(self, edges: np.ndarray, series: pd.Series, lookup: EdgeLookup | None = None) -> None:
        self.edges, self.lookup = edges, lookup
        self.parsed, self.missing = parsed_numbers(series)
        self.finite = np.isfinite(self.parsed)

    def __call__(self, rows: Rows) -> NumericalColumn:
        values, kept = self.parsed[rows], self.finite[rows]
        if not kept.all():
            values = values[kept]
        lost = int(self.missing[rows].sum())
        return NumericalColumn.from_values(
            self.edges, values, lost, len(kept) - len(values) - lost, self.lookup
        )


class CategoricalReader:
    """A function from rows of ``series`` to their :class:`CategoricalColumn`, equal to
    ``CategoricalColumn.from_series(values, series.iloc[rows], index, tail)``; its factorized
    labels (``codes``, ``labels``) and each label's slot (``label_slot``) serve other summaries too."""

    def __init__(
        self,
        values: tuple[str, ...],
        series: pd.Series,
        index: Mapping[str, int] | pd.Index | None = None,
        tail: CategoryTail | None = None,
        positions: Mapping[str, int] | None = None,
    ) -> None:
        """``positions``: each of ``values``' position, as ``index`` finds it; a few labels are
        looked up in it one by one, which costs less than building an index of them."""
        self.values, self.tail = values, tail
        self.codes, self.labels, _ = category_labels(series)
        self.size = CategoricalColumn.empty(values, tail).size
        lookup = positions if positions is not None and len(self.labels) <= FEW_LABELS else index
        self.label_slot = category_slots(values, self.labels, lookup, tail, self.size - 1)
        self.new_labels: list[int] = np.flatnonzero(self.label_slot == self.size - 1).tolist()

    def __call__(self, rows: Rows) -> CategoricalColumn:
        mine = self.codes[rows]
        present = mine[mine >= 0]
        column = CategoricalColumn.empty(self.values, self.tail)
        column.missing = len(mine) - len(present)
        if not len(present):
            return column
        labels = self.labels
        per_label = np.bincount(present, minlength=len(labels))
        counts = np.bincount(self.label_slot, weights=per_label, minlength=self.size).astype(np.int64)
        column.slots = np.flatnonzero(counts)
        column.slot_counts = counts[column.slots]
        new: dict[str, int] = {}
        for i in self.new_labels:
            if per_label[i]:
                new[labels[i]] = new.get(labels[i], 0) + int(per_label[i])
        column.unseen, column.unseen_error = prune_names(new, 0)
        return column


#: a column read once, summarised over any rows
ColumnReader = NumericalReader | CategoricalReader


def column_reader(spec: ProfileSpec, frame: pd.DataFrame, name: str) -> ColumnReader:
    """The reader of profiled column ``name`` of ``frame`` against the spec's edges or categories."""
    if name in spec.edges:
        return NumericalReader(spec.edges[name], frame[name], spec._lookup(name))
    values = spec.categories[name]
    # each category's position, kept with the spec's other caches (a "_" key of its state)
    cache: dict[str, dict[str, int]] = spec.state.setdefault("_category_positions", {})
    if name not in cache:
        cache[name] = {label: i for i, label in enumerate(values)}
    return CategoricalReader(values, frame[name], spec._index(name), spec.tails.get(name), cache[name])
