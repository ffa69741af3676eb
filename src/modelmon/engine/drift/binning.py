"""The counts that drift tests compare, read from column profiles instead of raw values.

Evidently's ``get_binned_data`` decides what the histogram-based tests (PSI, KL, Jensen-Shannon)
compare, and we follow it as closely as a profile allows:

* categorical columns, and numerical columns whose reference has at most 20 unique values, compare
  one count per value seen in either sample (:func:`value_counts`);
* other numerical columns compare counts over Sturges' equal-width bins spanning the combined range
  of both samples (:func:`sturges_counts`).

A profile knows every reference category (up to ``max_categories`` by name, the rest by hash bucket:
see :mod:`modelmon.engine.category_counts`), up to 1,000 new category names with their counts, and
for a numerical column the counts over the reference's cells ``x < e0, x == e0, e0 < x < e1, ..., x > ek``.
What this changes, and why it is small:

* Values. An edge cell holds one value. When the edges are all the reference's unique values, an
  interval cell holds only values the reference never had; it is compared as *one* value. Chi-square,
  Jensen-Shannon and Hellinger give the same result either way (a value absent from one sample adds a
  term linear in its share: ``p log 2`` for Jensen-Shannon, ``0`` for Hellinger, an infinite statistic
  for chi-square); PSI and KL differ only when one cell holds several distinct new values, because the
  small probability Evidently substitutes for an empty bin is then counted once instead of per value.
  New category names beyond the 1,000 remembered are likewise merged into one, and a reference
  tail's bucket is compared as one value (:mod:`modelmon.engine.drift.tails` bounds the effect).
* Bins. Sturges' bin boundaries are moved to cell boundaries, so that every bin's count is exact: a
  boundary that falls inside an interval cell sends the whole cell to the side where the mean of its
  values lies (the cell keeps their sum). The bins are therefore not exactly equal-width. Beyond the
  reference's range the profile knows only one cell per side, so the current values below (above)
  the reference's minimum (maximum) stay together in one bin where Evidently may split them. With
  exact edges and current values that the reference also has (discrete data), no cell has values
  between edges, the boundaries move across no value, and the counts equal Evidently's.
* Integer columns. numpy widens Sturges' bins to at least 1 for integer dtypes; a profile does not
  keep the dtype, so for an integer column whose range is below about ``log2(n) + 1`` the bins
  differ (Evidently's Hellinger distance of a 0/1 integer column uses a single bin and is always 0).

>>> import numpy as np
>>> from modelmon.engine.columns import CategoricalColumn
>>> import pandas as pd
>>> reference = CategoricalColumn.from_series(("a", "b"), pd.Series(["a", "a", "b"]))
>>> current = CategoricalColumn.from_series(("a", "b"), pd.Series(["a", "c", "c", "d"]))
>>> value_counts(reference, current)
(array([2, 1, 0, 0]), array([1, 0, 2, 1]))
"""

from __future__ import annotations

import functools

import numpy as np

from modelmon.engine.columns import CategoricalColumn, NumericalColumn

__all__ = [
    "MAX_VALUES_AS_CATEGORIES",
    "Column",
    "binned_counts",
    "distinct_values",
    "fill_empty",
    "require_values",
    "sorted_value_counts",
    "sturges_counts",
    "sturges_cuts",
    "value_counts",
]

Column = NumericalColumn | CategoricalColumn

#: Evidently bins a numerical column only when its reference has more unique values than this
MAX_VALUES_AS_CATEGORIES = 20


def require_values(reference: Column, current: Column) -> None:
    """Raise :class:`~modelmon.errors.InputError` when either side has no valid value to compare."""
    from modelmon.errors import InputError

    for side, column in (("reference", reference), ("current", current)):
        if column.count == 0:
            raise InputError(f"the {side} column has no valid (non-missing, finite) values to test for drift")


def _category_counts(
    reference: CategoricalColumn, current: CategoricalColumn
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Counts per reference category, per tail bucket, per remembered new name, and the nameless
    rest, and those new names (sorted)."""
    names = sorted(set(reference.unseen) | set(current.unseen))
    if not names:  # no new names on either side: the slots' counts are the counts
        return reference.counts, current.counts, names
    columns = []
    for column in (reference, current):
        named = np.array([column.unseen.get(name, 0) for name in names], dtype=np.int64)
        rest = max(int(column.counts[-1]) - int(named.sum()), 0)
        columns.append(np.concatenate((column.counts[:-1], named, [rest])))
    return columns[0], columns[1], names


def value_counts(reference: Column, current: Column) -> tuple[np.ndarray, np.ndarray]:
    """Counts of each value present in either sample (reference categories first, or cell order)."""
    if isinstance(reference, NumericalColumn) and isinstance(current, NumericalColumn):
        ref, cur = reference.cell_counts, current.cell_counts
    else:
        ref, cur, _ = _category_counts(reference, current)  # type: ignore[arg-type]
    present = (ref > 0) | (cur > 0)
    return ref[present], cur[present]


def _label_order(labels: np.ndarray) -> np.ndarray:
    """Sort labels as numbers when they all are, else as text (the nameless rest last)."""
    named = labels[:-1]
    try:
        keys = np.array([float(label) for label in named])
    except ValueError:
        keys = named.astype(str)
    return np.concatenate((np.argsort(keys, kind="stable"), [len(labels) - 1]))


@functools.lru_cache(maxsize=4096)
def _count_order(values: tuple[str, ...], tail_buckets: int, names: tuple[str, ...]) -> np.ndarray:
    """The order of :func:`_category_counts`' counts by label, kept per labels: an online window
    asks it of the same two-valued categories of every segment value on each recompute, and
    labelling and parsing them cost more than the test. Read-only, as it is shared."""
    buckets = [f"(reference tail, bucket {b})" for b in range(tail_buckets)]
    order = _label_order(np.array([*values, *buckets, *names, ""], dtype=object))
    order.flags.writeable = False
    return order


def sorted_value_counts(reference: Column, current: Column) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`value_counts`, ordered by value (as Evidently's Z-test sorts the values)."""
    if isinstance(reference, NumericalColumn):
        return value_counts(reference, current)
    ref, cur, names = _category_counts(reference, current)  # type: ignore[arg-type]
    order = _count_order(tuple(reference.values), reference.tail_buckets, tuple(names))
    ref, cur = ref[order], cur[order]
    present = (ref > 0) | (cur > 0)
    return ref[present], cur[present]


def distinct_values(reference: Column, current: Column) -> int:
    """Number of distinct values in both samples together (Evidently's ``nunique`` of the union).

    Exact for categories (up to 50 new names) and for numerical columns with exact edges, except
    that an interval cell counts as one value: a lower bound when it holds several new values.
    """
    if isinstance(reference, NumericalColumn) and isinstance(current, NumericalColumn):
        ref, cur = reference.cell_counts, current.cell_counts
    else:
        ref, cur, _ = _category_counts(reference, current)  # type: ignore[arg-type]
    # counted where present, not gathered: a drift test's choice asks this of every column
    return int(np.count_nonzero((ref > 0) | (cur > 0)))


def _few_reference_values(reference: NumericalColumn, exact: bool) -> bool:
    return exact and int(np.count_nonzero(reference.cell_counts)) <= MAX_VALUES_AS_CATEGORIES


def sturges_cuts(reference: NumericalColumn, current: NumericalColumn, sample_size: int) -> np.ndarray:
    """Cell indices where Sturges' bins start, after moving each boundary to the nearest cell boundary.

    Bin ``i`` holds cells ``cuts[i-1] <= cell < cuts[i]`` (with ``cuts[-1] = 0`` before the first).
    """
    low, high = min(reference.min, current.min), max(reference.max, current.max)
    # as numpy's histogram_bin_edges(values, bins="sturges") for sample_size values in [low, high]
    width = (high - low) / (np.log2(sample_size) + 1.0)
    bins = int(np.ceil((high - low) / width)) if width else 1
    if low == high:
        low, high = low - 0.5, high + 0.5
    boundaries = np.linspace(low, high, bins + 1)[1:-1]
    edges = reference.edges
    index = np.searchsorted(edges, boundaries, side="left")
    # a boundary inside interval cell 2j sends the whole cell to the side holding its values' mean;
    # a boundary on an edge starts its bin with that edge, as numpy's bins are [a, b)
    counts = reference.cell_counts[0::2] + current.cell_counts[0::2]
    sums = reference.cell_sums[0::2] + current.cell_sums[0::2]
    means = np.divide(sums, counts, out=np.full(len(counts), -np.inf), where=counts > 0)
    cuts = 2 * index + (means[index] < boundaries)
    cells = 2 * len(edges) + 1
    return np.unique(cuts[(cuts > 0) & (cuts < cells)])


def sturges_counts(
    reference: NumericalColumn, current: NumericalColumn, sample_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Reference and current counts over :func:`sturges_cuts` bins."""
    starts = np.concatenate(([0], sturges_cuts(reference, current, sample_size)))
    return np.add.reduceat(reference.cell_counts, starts), np.add.reduceat(current.cell_counts, starts)


def binned_counts(reference: Column, current: Column, exact: bool) -> tuple[np.ndarray, np.ndarray]:
    """Evidently's ``get_binned_data`` counts (before shares and empty-bin filling), from profiles."""
    numerical = isinstance(reference, NumericalColumn) and isinstance(current, NumericalColumn)
    if numerical and not _few_reference_values(reference, exact):  # type: ignore[arg-type]
        return sturges_counts(reference, current, reference.count + current.count)  # type: ignore[arg-type]
    return value_counts(reference, current)


def fill_empty(shares: np.ndarray) -> np.ndarray:
    """Replace empty bins by a small share, exactly as Evidently does before PSI and KL.

    The fill is a millionth of the smallest non-empty share when that is at most 1e-4, else 1e-4.
    """
    smallest = shares[shares > 0].min()
    fill = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return np.where(shares == 0, fill, shares)
