"""The sum of many per-segment drift parts' summaries (a window's buckets), every feature and
segment value at once.

A window adds its parts on each recompute: a bucket and its new rows, the running total and the new
rows, the older and the newer buckets' totals. Each part holds a summary per feature and segment
value (about 200 for the demo taxi model), and adding them one by one cost a few numpy calls and a
dict of totals each. :func:`summed` adds all the numerical summaries of a sum in one count over
(feature and value, cell), all the categorical ones in one count over (feature and value, slot), and
the totals in a few numpy calls (:func:`_in_turn`). Every number is the one
:func:`~modelmon.engine.columns.sum_all` gives for that feature and value alone: cells and totals
added in the same order, extremes kept as ``min`` and ``max`` keep them, new names pruned once as a
pair's sum and a total of more prune them. ``tests/engine/test_segment_drift_totals.py`` checks it
on random summaries, down to the types and the sign of a zero.

>>> from modelmon.engine.columns import NumericalColumn
>>> edges = np.array([1.0, 2.0])
>>> one = SparseNumerical.of(NumericalColumn.from_values(edges, np.array([1.0, 1.5])))
>>> two = SparseNumerical.of(NumericalColumn.from_values(edges, np.array([1.5, 3.0])))
>>> total = summed({"zone a": [{"x": one}, {"x": two}]})["zone a"]["x"]
>>> total.cells.tolist(), total.counts.tolist(), total.totals["max"]
([1, 2, 4], [1, 2, 1], 3.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from modelmon.engine.category_counts import prune_names
from modelmon.engine.columns import CategoricalColumn, sum_all
from modelmon.engine.segment_drift_sparse import Sparse, SparseCategorical, SparseNumerical

__all__ = ["summed"]

#: a numerical summary's totals that are counts, and those that are floats
_COUNTED = ("count", "missing", "type_errors")
_FLOATS = ("sum", "sum_sq", "min", "max")


def _pieces(groups: Sequence[Sequence[Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Each group's number of pieces and the place of its first piece among all groups' pieces."""
    lengths = np.array([len(group) for group in groups], dtype=np.intp)
    starts = np.zeros(len(groups), dtype=np.intp)
    np.cumsum(lengths[:-1], out=starts[1:])
    return lengths, starts


def _owners(groups: Sequence[Sequence[Any]], sizes: list[int], starts: np.ndarray) -> np.ndarray:
    """The group of each entry of the pieces' concatenated arrays (``sizes``: each piece's length)."""
    per_group = np.add.reduceat(np.array(sizes, dtype=np.intp), starts) if sizes else np.zeros(0, np.intp)
    return np.repeat(np.arange(len(groups)), per_group)


def _union(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True)`` for keys made of sorted runs (each piece's cells
    are in order): a stable sort finds the runs and merges them, several times faster than the
    sort ``np.unique`` does on a window's sums of a few thousand cells."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    first = np.empty(len(keys), dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    place = np.empty(len(keys), dtype=np.intp)
    place[order] = np.cumsum(first) - 1
    return ordered[first], place


def _in_turn(values: dict[str, np.ndarray], lengths: np.ndarray, starts: np.ndarray) -> dict[str, np.ndarray]:
    """Per group, of its pieces' ``sum``, ``sum_sq``, ``min`` and ``max``: the first two added up
    in turn from 0 and the others' extremes, every group at once but each number as Python's
    ``sum``, ``min`` and ``max`` over the group's pieces give it.

    The pieces are laid out one row per place in their group (a first row of zeros, as ``sum``
    starts from 0), and added up row by row (``np.add.accumulate``, which adds in turn; the zeros
    padding a shorter group add nothing to a sum that started from 0). Of equal extremes, such as
    -0.0 and 0.0, ``min`` and ``max`` keep the first: so does the first place holding the extreme.
    """
    groups = len(lengths)
    owner = np.repeat(np.arange(groups), lengths)
    place = np.arange(len(owner)) - np.repeat(starts, lengths)
    rows = int(lengths.max(initial=0)) + 1
    found = {}
    for name in ("sum", "sum_sq"):
        laid = np.zeros((rows, groups))
        laid[place + 1, owner] = values[name]
        found[name] = np.add.accumulate(laid, axis=0)[-1]
    for name, pad, extreme in (("min", np.inf, np.min), ("max", -np.inf, np.max)):
        laid = np.full((rows - 1, groups), pad)
        laid[place, owner] = values[name]
        first = np.argmax(laid == extreme(laid, axis=0), axis=0)
        found[name] = laid[first, np.arange(groups)]
    return found


def _numerical_totals(groups: Sequence[Sequence[SparseNumerical]]) -> list[SparseNumerical]:
    """:meth:`SparseNumerical.total` of each group (one feature of several segment values), every
    group at once: the cells added up in one count over (group, cell), each cell's sum taking its
    pieces in the same order, and the totals added up in turn (:func:`_in_turn`), so the numbers are
    the same."""
    flat = [summary for group in groups for summary in group]
    lengths, starts = _pieces(groups)
    cells = np.concatenate([summary.cells for summary in flat])
    size = int(cells.max()) + 1 if len(cells) else 1
    keys = _owners(groups, [len(summary.cells) for summary in flat], starts) * size + cells
    # the keys are few (a few hundred cells a segment value) against groups x cells: sorted, not counted
    union, place = _union(keys)
    counts = np.bincount(
        place, weights=np.concatenate([summary.counts for summary in flat]), minlength=len(union)
    )
    sums = np.bincount(
        place, weights=np.concatenate([summary.sums for summary in flat]), minlength=len(union)
    )
    counts = counts.astype(np.int64)
    bounds = np.searchsorted(union, np.arange(len(groups) + 1) * size).tolist()
    cells = union % size  # each key's own cell, for every group at once
    totals = [summary.totals for summary in flat]
    # one list per total: numpy reads a flat list of numbers much faster than a list of rows
    counted = np.array([[t[name] for t in totals] for name in _COUNTED], dtype=np.int64)
    # values near the float range can overflow a sum: it is then infinite, as Python's sum gives it
    with np.errstate(over="ignore", invalid="ignore"):
        found = _in_turn(
            {name: np.array([t[name] for t in totals], dtype=np.float64) for name in _FLOATS},
            lengths,
            starts,
        )
    added = zip(*(found[name].tolist() for name in _FLOATS), strict=True)
    summed = []
    for number, ((count, missing, errors), (total, squares, low, high)) in enumerate(
        zip(np.add.reduceat(counted, starts, axis=1).T.tolist(), added, strict=True)
    ):
        start, end = bounds[number], bounds[number + 1]
        own = {
            "count": count,
            "missing": missing,
            "type_errors": errors,
            "sum": total,
            "sum_sq": squares,
            "min": low,
            "max": high,
        }
        summed.append(SparseNumerical(cells[start:end], counts[start:end], sums[start:end], own))
    return summed


def _categorical_totals(groups: Sequence[Sequence[SparseCategorical]]) -> list[SparseCategorical]:
    """:meth:`SparseCategorical.total` of each group (several features of several segment values),
    every group at once: the counts added up in one count over (group, slot), and each group's new
    names merged and pruned once, as a pair's sum and a total of more prune them."""
    for group in groups:
        for other in group[1:]:
            group[0].column._check_addable(other.column)
    flat = [summary.column for group in groups for summary in group]
    lengths, starts = _pieces(groups)
    sizes = np.array([group[0].column.size for group in groups], dtype=np.intp)
    offsets = np.concatenate(([0], np.cumsum(sizes)))  # each group's slots start here
    owners = _owners(groups, [len(column.slots) for column in flat], starts)
    keys = offsets[owners] + np.concatenate([column.slots for column in flat])
    weights = np.concatenate([column.slot_counts for column in flat])
    if offsets[-1] <= max(len(keys), 1 << 16):  # a dense count is cheaper than sorting the keys
        dense = np.bincount(keys, weights=weights, minlength=int(offsets[-1]))
        union = np.flatnonzero(dense)
        counts = dense[union].astype(np.int64)
    else:
        union, place = _union(keys)
        counts = np.bincount(place, weights=weights, minlength=len(union)).astype(np.int64)
        union, counts = union[counts != 0], counts[counts != 0]
    bounds = np.searchsorted(union, offsets)
    slots = union - np.repeat(offsets[:-1], np.diff(bounds))
    bounds = bounds.tolist()
    counted = np.array(
        [[c.missing for c in flat], [c.type_errors for c in flat], [c.unseen_error for c in flat]],
        dtype=np.int64,
    )
    summed = []
    for number, (missing, errors, unseen_error) in enumerate(
        np.add.reduceat(counted, starts, axis=1).T.tolist()
    ):
        unseen: dict[str, int] = {}
        for column in flat[starts[number] : starts[number] + lengths[number]]:
            for name, count in column.unseen.items():
                unseen[name] = unseen.get(name, 0) + count
        kept, error = prune_names(unseen, unseen_error) if unseen else ({}, unseen_error)
        start, end = bounds[number], bounds[number + 1]
        first = groups[number][0].column
        column = CategoricalColumn(
            first.values,
            first.size,
            slots[start:end],
            counts[start:end],
            kept,
            missing=missing,
            type_errors=errors,
            unseen_error=error,
        )
        summed.append(SparseCategorical(column))
    return summed


def summed(pieces: Mapping[str, Sequence[Mapping[str, Sparse]]]) -> dict[str, dict[str, Sparse]]:
    """Each segment value's summaries added up feature by feature, as :func:`sum_all` adds them;
    the numerical ones of every feature and value at once (:func:`_numerical_totals`), and the
    categorical ones too (:func:`_categorical_totals`)."""
    summed: dict[str, dict[str, Sparse]] = {}
    numerical: list[tuple[dict[str, Sparse], str, list[SparseNumerical]]] = []
    categorical: list[tuple[dict[str, Sparse], str, list[SparseCategorical]]] = []
    for bucket, dicts in pieces.items():
        if len(dicts) == 1:  # a value in one part only keeps its summaries
            summed[bucket] = dict(dicts[0])
            continue
        own: dict[str, Sparse] = {}
        for name in dict.fromkeys(name for summaries in dicts for name in summaries):
            group = [summaries[name] for summaries in dicts if name in summaries]
            own[name] = group[0]  # its place; a sum of more follows
            if len(group) == 1:
                continue
            if all(isinstance(summary, SparseNumerical) for summary in group):
                numerical.append((own, name, group))  # type: ignore[arg-type]
            elif all(isinstance(summary, SparseCategorical) for summary in group):
                categorical.append((own, name, group))  # type: ignore[arg-type]
            else:
                own[name] = sum_all(group)
        summed[bucket] = own
    if numerical:
        for (own, name, _), number in zip(
            numerical, _numerical_totals([group for _, _, group in numerical]), strict=True
        ):
            own[name] = number
    if categorical:
        for (own, name, _), label in zip(
            categorical, _categorical_totals([group for _, _, group in categorical]), strict=True
        ):
            own[name] = label
    return summed
