"""One feature's summaries over every segment value of a slice, read in one pass.

The per-segment drift part needs, for each segment value among a slice's rows, the sparse summary of
every feature over that value's rows: about 200 small summaries for a window's new rows (19 values x
11 features of the demo taxi model). Profiled value by value, each of them paid a count over all the
reference's cells and a handful of numpy calls. A reader here parses its column once, finds each
value's cell once, and summarises every segment value of a slice with one count over
(segment value, cell). Each summary equals the one of the value's rows profiled alone
(:meth:`NumericalColumn.from_values` and the categorical slots of :func:`category_slots`): the same
cells, counts, per-cell sums added in the same order, and each value's own min, max, sum and sum of
squares computed on its own values as ``from_values`` computes them. ``tests/engine/test_slices.py``
and ``tests/engine/test_segment_drift.py`` check it.

>>> import pandas as pd
>>> from modelmon.engine.cells import EdgeLookup
>>> edges = np.array([1.0, 2.0, 3.0])
>>> read = numerical_reads(edges, EdgeLookup(edges), pd.Series([0.5, None, 2.0, "x", 2.0, 7.0], dtype=object))
>>> first, second = read(np.array([0, 2, 4, 1, 3, 5]), np.array([0, 3, 6]))
>>> first.cells.tolist(), first.counts.tolist(), first.totals["count"], second.totals["type_errors"]
([0, 3], [1, 2], 3, 1)
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from itertools import pairwise

import numpy as np
import pandas as pd

from modelmon.engine.category_counts import CategoryTail, prune_names
from modelmon.engine.cells import EdgeLookup, cells_of
from modelmon.engine.column_reader import CategoricalReader, NumericalReader
from modelmon.engine.columns import LOOKUP_BLOCK, CategoricalColumn, NumericalColumn
from modelmon.engine.segment_drift_sparse import Sparse, SparseCategorical, SparseNumerical

__all__ = ["GroupReader", "categorical_reads", "numerical_reads"]

#: from row positions grouped by segment value (``order``) and each group's bounds in them, to
#: each group's summary
GroupReader = Callable[[np.ndarray, np.ndarray], list[Sparse]]


def _owners(bounds: np.ndarray) -> np.ndarray:
    """The group of each position of ``order``."""
    return np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))


def numerical_reads(
    edges: np.ndarray, lookup: EdgeLookup | None, series: pd.Series | NumericalReader
) -> GroupReader:
    """Each group's :class:`SparseNumerical`, equal to ``SparseNumerical.of`` of
    ``NumericalColumn.from_values`` over its rows' finite values; ``series`` is the column or its
    reader of the same edges (its values parsed already)."""
    read_once = series if isinstance(series, NumericalReader) else NumericalReader(edges, series, lookup)
    parsed, missing, finite = read_once.parsed, read_once.missing, read_once.finite
    width = 2 * len(edges) + 1

    # every row's cell, found at the first short read: a batch's long groups are summarised alone,
    # each finding its own rows' cells, and never need them
    @cache
    def cells_of_rows() -> np.ndarray:
        cells = np.zeros(len(parsed), dtype=np.intp)
        found = parsed[finite]
        cells[finite] = lookup.cells(found) if lookup is not None else cells_of(edges, found)
        return cells

    def alone(where: np.ndarray) -> SparseNumerical:
        values = parsed[where][finite[where]]
        lost = int(missing[where].sum())
        column = NumericalColumn.from_values(edges, values, lost, len(where) - len(values) - lost, lookup)
        return SparseNumerical.of(column)

    def read(order: np.ndarray, bounds: np.ndarray) -> list[Sparse]:
        if len(order) > LOOKUP_BLOCK:  # from_values adds a longer group's sums block by block
            return [alone(order[start:end]) for start, end in pairwise(bounds.tolist())]
        owners, kept = _owners(bounds), finite[order]
        groups = len(bounds) - 1
        rows, kept_owners = order[kept], owners[kept]
        values = parsed[rows]
        union, place = np.unique(kept_owners * width + cells_of_rows()[rows], return_inverse=True)
        counts = np.bincount(place, minlength=len(union))
        sums = np.bincount(place, weights=values, minlength=len(union))
        cuts = np.searchsorted(union, np.arange(groups + 1) * width).tolist()
        sizes = np.diff(bounds).tolist()
        found = np.bincount(kept_owners, minlength=groups)
        lost = np.bincount(owners[missing[order]], minlength=groups).tolist()
        ends = np.concatenate(([0], np.cumsum(found)))
        # every group's least and greatest value at once: the same ufunc over the same values as
        # each group's own min and max (they pair a group's values alike, so even zeros keep their sign)
        starts = ends[:-1][found > 0]
        lows = np.minimum.reduceat(values, starts).tolist() if len(starts) else []
        highs = np.maximum.reduceat(values, starts).tolist() if len(starts) else []
        ends = ends.tolist()
        summaries: list[Sparse] = []
        filled = 0
        # values near the float range can overflow a sum: it is then infinite, not an error
        with np.errstate(over="ignore", invalid="ignore"):
            for group, count in enumerate(found.tolist()):
                if not count:
                    summaries.append(alone(order[bounds[group] : bounds[group + 1]]))
                    continue
                mine = values[ends[group] : ends[group + 1]].copy()  # its own array, as from_values has
                totals = {
                    "count": count,
                    "missing": lost[group],
                    "type_errors": sizes[group] - count - lost[group],
                    "min": lows[filled],
                    "max": highs[filled],
                    "sum": float(np.add.reduce(mine)),  # ``mine.sum()`` without its Python wrapper
                    "sum_sq": float(np.einsum("i,i->", mine, mine)),
                }
                filled += 1
                start, end = cuts[group], cuts[group + 1]
                summaries.append(
                    SparseNumerical(
                        union[start:end] - group * width, counts[start:end], sums[start:end], totals
                    )
                )
        return summaries

    return read


def categorical_reads(
    values: tuple[str, ...], index: pd.Index, tail: CategoryTail | None, series: pd.Series | CategoricalReader
) -> GroupReader:
    """Each group's :class:`SparseCategorical`, equal to that of its rows profiled alone; ``series`` is
    the column or its reader of the same categories (its labels factorized already)."""
    read_once = (
        series if isinstance(series, CategoricalReader) else CategoricalReader(values, series, index, tail)
    )
    codes, labels, label_slot = read_once.codes, read_once.labels, read_once.label_slot
    size = read_once.size
    new_labels = np.asarray(read_once.new_labels, dtype=np.intp)
    is_new = np.zeros(len(labels), dtype=bool)
    is_new[new_labels] = True

    def read(order: np.ndarray, bounds: np.ndarray) -> list[Sparse]:
        owners, mine = _owners(bounds), codes[order]
        present = mine >= 0
        groups = len(bounds) - 1
        keys = owners[present] * size + label_slot[mine[present]]
        if groups * size <= max(len(keys), 1 << 16):  # a dense count is cheaper than sorting the keys
            dense = np.bincount(keys, minlength=groups * size)
            union = np.flatnonzero(dense)
            counts = dense[union]
        else:
            union, place = np.unique(keys, return_inverse=True)
            counts = np.bincount(place, minlength=len(union))
        cuts = np.searchsorted(union, np.arange(groups + 1) * size).tolist()
        missing = np.bincount(owners[~present], minlength=groups).tolist()
        summaries: list[Sparse] = []
        for group in range(groups):
            new: dict[str, int] = {}
            own = mine[bounds[group] : bounds[group + 1]]
            own = own[own >= 0]
            if is_new[own].any():
                per_label = np.bincount(own, minlength=len(labels))
                new = {labels[i]: int(per_label[i]) for i in new_labels.tolist() if per_label[i]}
            unseen, error = prune_names(new, 0)
            start, end = cuts[group], cuts[group + 1]
            slots = union[start:end] - group * size
            column = CategoricalColumn((), size, slots, counts[start:end], unseen, missing[group], 0, error)
            summaries.append(SparseCategorical(column))
        return summaries

    return read
