"""Mergeable summaries of one column: the building blocks of a :class:`~modelmon.engine.profile.Profile`.

A numerical column is summarised over the reference's *cells*: for edges ``e0 < e1 < ... < ek``
(the reference's unique values when there are few, otherwise fine quantiles) the cells are
``x < e0``, ``x == e0``, ``e0 < x < e1``, ``x == e1``, ..., ``x > ek``. Each cell keeps a count
and a sum of values, so cumulative distributions are exact at every edge, tail masses beyond the
reference range are exact, and statistics between edges are bounded by the cell masses.

>>> import numpy as np
>>> edges = np.array([1.0, 2.0, 3.0])
>>> column = NumericalColumn.from_values(edges, np.array([0.5, 1.0, 1.5, 3.0, 7.0]))
>>> column.cell_counts.tolist()
[1, 1, 1, 0, 0, 1, 1]
>>> (column + column).count
10
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelmon.engine.category_counts import CategoryTail, prune_names
from modelmon.engine.cells import EdgeLookup, cells_of
from modelmon.errors import SchemaError

__all__ = [
    "CategoricalColumn",
    "NumericalColumn",
    "category_labels",
    "category_slots",
    "code_slots",
    "label_slots",
    "numeric_values",
    "parsed_numbers",
    "ranked_labels",
    "sum_all",
    "top_labels",
    "value_label",
]

#: numerical values looked up and counted per block (512 KiB of float64, a processor cache's worth)
LOOKUP_BLOCK = 1 << 16


def numeric_values(series: pd.Series) -> tuple[np.ndarray, int, int]:
    """Finite float values of a column, the missing count and the type-error count.

    Strings that do not parse as numbers and infinities are type errors, not missing values.
    """
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        raw_missing = series.isna().to_numpy()
        parsed = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        finite = np.isfinite(parsed)
        missing = int(raw_missing.sum())
        return parsed[finite], missing, int(len(parsed) - finite.sum() - missing)
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.add.reduce(values)):  # no NaN, no infinity: one pass tells (rarely, a sum
            return values, 0, 0  # of finite values overflows and the values are checked one by one)
    nan = np.isnan(values)
    finite = ~nan & np.isfinite(values)
    missing = int(nan.sum())
    if finite.all():
        return values, 0, 0
    return values[finite], missing, int(len(values) - finite.sum() - missing)


def value_label(value: Any) -> str:
    """A value as a category label: ``1``, ``1.0`` and ``"1"`` all read ``"1"``, ``True`` reads ``"true"``."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    return str(value)


def category_labels(series: pd.Series) -> tuple[np.ndarray, list[str], int]:
    """Codes (-1 for missing) and string labels of a categorical column, and its missing count.

    Labels are strings so that JSON keys, Prometheus labels and comparisons agree: ``1``, ``1.0``
    and ``"1"`` are the same category.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    if pd.api.types.infer_dtype(uniques, skipna=False) == "string":  # all text: labels as they are
        return codes, np.asarray(uniques, dtype=object).tolist(), int((codes < 0).sum())
    if series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) in ("mixed", "mixed-integer"):
        # True == 1 to pandas' hashing, so one unique could stand for both and take the label of
        # whichever came first in this chunk: factorize the labels of mixed columns instead
        codes, uniques = pd.factorize(series.map(value_label, na_action="ignore"), use_na_sentinel=True)
    labels = [value_label(value) for value in uniques]
    return codes, labels, int((codes < 0).sum())


def top_labels(series: pd.Series, limit: int) -> list[str]:
    """The ``limit`` most frequent labels of ``series``, ties in name order.

    Counts are per label, so values spelled alike (``1`` and ``"1"``) count as one category.

    >>> top_labels(pd.Series([1, "1", "b", "b", "a", None], dtype=object), 2)
    ['1', 'b']
    """
    codes, labels, _ = category_labels(series)
    return ranked_labels(codes, labels)[:limit]


def ranked_labels(codes: np.ndarray, labels: list[str]) -> list[str]:
    """Labels of :func:`category_labels` from the most frequent down, ties in name order."""
    per_code = np.bincount(codes[codes >= 0], minlength=len(labels))
    frequency: dict[str, int] = {}
    for label, count in zip(labels, per_code.tolist(), strict=True):
        frequency[label] = frequency.get(label, 0) + count
    return sorted(frequency, key=lambda label: (-frequency[label], label))


def label_slots(series: pd.Series, index: Mapping[str, int], other: int, missing: int) -> np.ndarray:
    """Each row's slot: ``index[label]``, ``other`` for a label not in ``index``, ``missing`` for none.

    >>> label_slots(pd.Series(["b", None, "z", 2.0]), {"b": 0, "2": 1}, other=2, missing=-1).tolist()
    [0, -1, 2, 1]
    """
    codes, labels, _ = category_labels(series)
    return code_slots(codes, labels, index, other, missing)


def code_slots(
    codes: np.ndarray, labels: Sequence[str], index: Mapping[str, int], other: int, missing: int
) -> np.ndarray:
    """:func:`label_slots` of a column factorized already by :func:`category_labels`."""
    slot_of = np.array([index.get(label, other) for label in labels] + [missing], dtype=np.int64)
    return slot_of[codes]  # code -1 (missing) picks the trailing slot


@dataclass
class NumericalColumn:
    """Counts, sums and range of a numerical column over the reference's cells."""

    edges: np.ndarray
    cell_counts: np.ndarray
    cell_sums: np.ndarray
    count: int = 0
    missing: int = 0
    type_errors: int = 0
    min: float = float("inf")
    max: float = float("-inf")
    sum: float = 0.0
    sum_sq: float = 0.0
    kind: str = field(default="numerical", init=False)

    @classmethod
    def empty(cls, edges: np.ndarray) -> NumericalColumn:
        cells = 2 * len(edges) + 1
        return cls(edges, np.zeros(cells, dtype=np.int64), np.zeros(cells, dtype=np.float64))

    @classmethod
    def from_values(
        cls,
        edges: np.ndarray,
        values: np.ndarray,
        missing: int = 0,
        type_errors: int = 0,
        lookup: EdgeLookup | None = None,
    ) -> NumericalColumn:
        """Summarise finite ``values`` (missing and type errors counted by the caller).

        Values are looked up and counted a block at a time, so that the lookup's temporaries stay
        in the processor's cache instead of streaming through memory (about twice as fast at a
        million values, and more on several threads sharing the memory bandwidth).
        """
        if len(values) == 0:
            column = cls.empty(edges)
        else:
            cells = 2 * len(edges) + 1
            counts = np.zeros(cells, dtype=np.int64)
            sums = np.zeros(cells, dtype=np.float64)
            # values near the float range can overflow a sum: it is then infinite, not an error
            with np.errstate(over="ignore", invalid="ignore"):
                for start in range(0, len(values), LOOKUP_BLOCK):
                    block = values[start : start + LOOKUP_BLOCK]
                    index = lookup.cells(block) if lookup is not None else cells_of(edges, block)
                    counts += np.bincount(index, minlength=cells)
                    sums += np.bincount(index, weights=block, minlength=cells)
                column = cls(
                    edges,
                    counts,
                    sums,
                    count=len(values),
                    min=float(values.min()),
                    max=float(values.max()),
                    sum=float(values.sum()),
                    # einsum, not BLAS's dot: BLAS's own threads contend with the profile's threads
                    sum_sq=float(np.einsum("i,i->", values, values)),
                )
        column.missing, column.type_errors = missing, type_errors
        return column

    @classmethod
    def from_series(
        cls, edges: np.ndarray, series: pd.Series, lookup: EdgeLookup | None = None
    ) -> NumericalColumn:
        values, missing, type_errors = numeric_values(series)
        return cls.from_values(edges, values, missing, type_errors, lookup)

    @classmethod
    def from_sorted(
        cls, edges: np.ndarray, ordered: np.ndarray, missing: int = 0, type_errors: int = 0
    ) -> NumericalColumn:
        """Summarise finite values that are already sorted: a few searches instead of one per value."""
        if len(ordered) == 0:
            column = cls.empty(edges)
        else:
            bounds = np.empty(2 * len(edges) + 2, dtype=np.int64)
            bounds[0], bounds[-1] = 0, len(ordered)
            bounds[1:-1:2] = np.searchsorted(ordered, edges, side="left")
            bounds[2:-1:2] = np.searchsorted(ordered, edges, side="right")
            counts = np.diff(bounds)
            with np.errstate(over="ignore", invalid="ignore"):
                # each filled cell's run added on its own (it ends where the next filled one
                # starts): many times faster than a running sum, and no cancellation
                filled = counts > 0
                sums = np.zeros(len(counts))
                sums[filled] = np.add.reduceat(ordered, bounds[:-1][filled])
                column = cls(
                    edges,
                    counts,
                    sums,
                    count=len(ordered),
                    min=float(ordered[0]),
                    max=float(ordered[-1]),
                    sum=float(np.add.reduce(ordered)),
                    sum_sq=float(np.einsum("i,i->", ordered, ordered)),
                )
        column.missing, column.type_errors = missing, type_errors
        return column

    @property
    def rows(self) -> int:
        """Rows seen, valid or not."""
        return self.count + self.missing + self.type_errors

    @property
    def mean(self) -> float:
        return self.sum / self.count if self.count else float("nan")

    @property
    def std(self) -> float:
        """Population standard deviation (``ddof=0``, as numpy's default)."""
        if not self.count:
            return float("nan")
        with np.errstate(over="ignore", invalid="ignore"):
            variance = np.float64(self.sum_sq) / self.count - np.float64(self.mean) ** 2
        # a sum that overflowed the float range leaves the spread unknown but beyond any float
        return float(np.sqrt(max(variance, 0.0))) if np.isfinite(variance) else float("inf")

    def __add__(self, other: NumericalColumn) -> NumericalColumn:
        # columns of one spec share its edges array: the identity check spares comparing every edge
        if not isinstance(other, NumericalColumn) or (
            other.edges is not self.edges and not np.array_equal(self.edges, other.edges)
        ):
            raise SchemaError(
                "numerical column profiles built against different reference edges cannot be added"
            )
        return NumericalColumn(
            self.edges,
            self.cell_counts + other.cell_counts,
            self.cell_sums + other.cell_sums,
            count=self.count + other.count,
            missing=self.missing + other.missing,
            type_errors=self.type_errors + other.type_errors,
            min=min(self.min, other.min),
            max=max(self.max, other.max),
            sum=self.sum + other.sum,
            sum_sq=self.sum_sq + other.sum_sq,
        )

    def to_dict(self) -> dict[str, Any]:
        nonzero = np.flatnonzero(self.cell_counts)
        return {
            "kind": "numerical",
            "count": self.count,
            "missing": self.missing,
            "type_errors": self.type_errors,
            "min": self.min if self.count else None,
            "max": self.max if self.count else None,
            "sum": self.sum,
            "sum_sq": self.sum_sq,
            "cells": nonzero.tolist(),
            "cell_counts": self.cell_counts[nonzero].tolist(),
            "cell_sums": self.cell_sums[nonzero].tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], edges: np.ndarray) -> NumericalColumn:
        column = cls.empty(edges)
        cells = np.asarray(data["cells"], dtype=np.int64)
        column.cell_counts[cells] = data["cell_counts"]
        column.cell_sums[cells] = data["cell_sums"]
        column.count, column.missing = int(data["count"]), int(data["missing"])
        column.type_errors = int(data["type_errors"])
        column.min = float("inf") if data["min"] is None else float(data["min"])
        column.max = float("-inf") if data["max"] is None else float(data["max"])
        column.sum, column.sum_sq = float(data["sum"]), float(data["sum_sq"])
        return column


def _merge_slots(
    first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray], size: int
) -> tuple[np.ndarray, np.ndarray]:
    """The sum of two sparse count vectors (sorted slots with their counts)."""
    if not len(first[0]):
        return second
    if not len(second[0]):
        return first
    if len(first[0]) + len(second[0]) > size // 8:  # dense enough: add into a full vector
        dense = np.zeros(size, dtype=np.int64)
        dense[first[0]] += first[1]
        dense[second[0]] += second[1]
        slots = np.flatnonzero(dense)
        return slots, dense[slots]
    slots, inverse = np.unique(np.concatenate((first[0], second[0])), return_inverse=True)
    counts = np.zeros(len(slots), dtype=np.int64)
    np.add.at(counts, inverse, np.concatenate((first[1], second[1])))
    return slots, counts


def sum_all(values: Sequence[Any]) -> Any:
    """The sum of summaries of one type: its ``total`` when it has one (cheaper than in pairs)."""
    together = getattr(type(values[0]), "total", None)
    if together is not None:
        return together(values)
    total = values[0]
    for value in values[1:]:
        total = total + value
    return total


@dataclass
class CategoricalColumn:
    """Counts per reference category, per tail bucket and of new values, and the new names seen.

    Slots ``0 .. len(values) - 1`` are the reference categories kept by name, then one slot per
    hash bucket of the reference's tail (none when the reference has at most ``max_categories``
    categories; see :mod:`modelmon.engine.category_counts`), and last the values in no reference
    category. Counts are kept sparse (the slots that have rows), so a profile of a few rows costs
    a few entries whatever the number of categories. ``unseen`` names new values with their
    counts, exact while ``unseen_error`` is 0 and otherwise at most that much below the truth.
    """

    values: tuple[str, ...]
    size: int
    slots: np.ndarray
    slot_counts: np.ndarray
    unseen: dict[str, int] = field(default_factory=dict)
    missing: int = 0
    type_errors: int = 0
    unseen_error: int = 0
    kind: str = field(default="categorical", init=False)

    @classmethod
    def empty(cls, values: tuple[str, ...], tail: CategoryTail | None = None) -> CategoricalColumn:
        size = len(values) + (tail.buckets if tail is not None else 0) + 1
        return cls(values, size, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))

    @classmethod
    def from_counts(
        cls,
        values: tuple[str, ...],
        counts: np.ndarray,
        unseen: Mapping[str, int] | None = None,
        **extra: Any,
    ) -> CategoricalColumn:
        """A column from a dense vector of slot counts (see the class docstring for the slots)."""
        counts = np.asarray(counts, dtype=np.int64)
        slots = np.flatnonzero(counts)
        return cls(values, len(counts), slots, counts[slots], dict(unseen or {}), **extra)

    @classmethod
    def from_series(
        cls,
        values: tuple[str, ...],
        series: pd.Series,
        index: Mapping[str, int] | pd.Index | None = None,
        tail: CategoryTail | None = None,
    ) -> CategoricalColumn:
        return cls.from_codes(values, *category_labels(series), index, tail)

    @classmethod
    def from_codes(
        cls,
        values: tuple[str, ...],
        codes: np.ndarray,
        labels: list[str],
        missing: int,
        index: Mapping[str, int] | pd.Index | None = None,
        tail: CategoryTail | None = None,
    ) -> CategoricalColumn:
        """Summarise a column already factorized by :func:`category_labels`.

        ``index`` finds a label's position among ``values``: a ``pd.Index`` of them (the spec
        caches one; a hash lookup in C) or a mapping label -> position.
        """
        column = cls.empty(values, tail)
        column.missing = missing
        if not labels:
            return column
        new_slot = column.size - 1
        label_slot = category_slots(values, labels, index, tail, new_slot)
        per_label = np.bincount(codes[codes >= 0], minlength=len(labels))
        slots, inverse = np.unique(label_slot, return_inverse=True)
        counts = np.zeros(len(slots), dtype=np.int64)
        np.add.at(counts, inverse, per_label)
        column.slots, column.slot_counts = slots, counts
        new: dict[str, int] = {}
        for i in np.flatnonzero(label_slot == new_slot).tolist():
            new[labels[i]] = new.get(labels[i], 0) + int(per_label[i])
        column.unseen, column.unseen_error = prune_names(new, 0)
        return column

    @property
    def counts(self) -> np.ndarray:
        """All slot counts as one dense vector (reference categories, tail buckets, new values)."""
        dense = np.zeros(self.size, dtype=np.int64)
        dense[self.slots] = self.slot_counts
        return dense

    @property
    def tail_buckets(self) -> int:
        return self.size - len(self.values) - 1

    @property
    def count(self) -> int:
        """Non-missing values."""
        return int(self.slot_counts.sum())

    @property
    def rows(self) -> int:
        return self.count + self.missing + self.type_errors

    @property
    def new_count(self) -> int:
        """Values that are not among the reference's categories."""
        has_new = len(self.slots) and self.slots[-1] == self.size - 1
        return int(self.slot_counts[-1]) if has_new else 0

    @property
    def tail_count(self) -> int:
        """Values among the reference's tail categories (counted by hash bucket)."""
        low, high = np.searchsorted(self.slots, [len(self.values), self.size - 1])
        return int(self.slot_counts[low:high].sum())

    def _check_addable(self, other: object) -> None:
        if (
            not isinstance(other, CategoricalColumn)
            or self.size != other.size
            or (other.values is not self.values and self.values != other.values)
        ):
            raise SchemaError(
                "categorical column profiles built against different references cannot be added"
            )

    def __add__(self, other: CategoricalColumn) -> CategoricalColumn:
        self._check_addable(other)
        unseen = dict(self.unseen)
        for name, count in other.unseen.items():
            unseen[name] = unseen.get(name, 0) + count
        kept, error = prune_names(unseen, self.unseen_error + other.unseen_error)
        slots, counts = _merge_slots(
            (self.slots, self.slot_counts), (other.slots, other.slot_counts), self.size
        )
        return CategoricalColumn(
            self.values,
            self.size,
            slots,
            counts,
            kept,
            missing=self.missing + other.missing,
            type_errors=self.type_errors + other.type_errors,
            unseen_error=error,
        )

    @classmethod
    def total(cls, columns: Sequence[CategoricalColumn]) -> CategoricalColumn:
        """The sum of many columns (a window's buckets): counts added into one vector and new names
        pruned once, instead of once per pair. The named new values and their error bound are
        those of one merge of all the summaries (Misra-Gries summaries merge this way)."""
        first = columns[0]
        if len(columns) <= 2:  # a pair keeps its sparse sum (no vector of every category)
            return first if len(columns) == 1 else first + columns[1]
        for other in columns[1:]:
            first._check_addable(other)
        dense = np.zeros(first.size, dtype=np.int64)
        unseen: dict[str, int] = {}
        for column in columns:
            dense[column.slots] += column.slot_counts
            for name, count in column.unseen.items():
                unseen[name] = unseen.get(name, 0) + count
        kept, error = prune_names(unseen, sum(column.unseen_error for column in columns))
        slots = np.flatnonzero(dense)
        return CategoricalColumn(
            first.values,
            first.size,
            slots,
            dense[slots],
            kept,
            missing=sum(column.missing for column in columns),
            type_errors=sum(column.type_errors for column in columns),
            unseen_error=error,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "categorical",
            "size": self.size,
            "slots": self.slots.tolist(),
            "slot_counts": self.slot_counts.tolist(),
            "unseen": dict(self.unseen),
            "unseen_error": self.unseen_error,
            "missing": self.missing,
            "type_errors": self.type_errors,
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], values: tuple[str, ...], tail: CategoryTail | None = None
    ) -> CategoricalColumn:
        size = len(values) + (tail.buckets if tail is not None else 0) + 1
        if int(data["size"]) != size:
            raise SchemaError(
                f"categorical profile has {data['size']} count slots where its spec has {size}; "
                "it was built against a different reference"
            )
        slots = np.asarray(data["slots"], dtype=np.int64)
        counts = np.asarray(data["slot_counts"], dtype=np.int64)
        if len(slots) != len(counts) or (len(slots) and (slots.min() < 0 or slots.max() >= size)):
            raise SchemaError(f"categorical profile has slots outside 0..{size - 1} or unmatched counts")
        return cls(
            values,
            size,
            slots,
            counts,
            dict(data["unseen"]),
            int(data["missing"]),
            int(data["type_errors"]),
            int(data.get("unseen_error", 0)),
        )


def category_slots(
    values: Sequence[str],
    labels: Sequence[str],
    index: Mapping[str, int] | pd.Index | None,
    tail: CategoryTail | None,
    new_slot: int,
) -> np.ndarray:
    """The cell of each label in a categorical column of ``values``: its value's, else its tail
    bucket's, else ``new_slot`` (the cell of new categories)."""
    if index is None:
        index = pd.Index(values, dtype=object)
    if isinstance(index, pd.Index):
        label_slot = index.get_indexer(pd.Index(labels, dtype=object)).astype(np.int64)
    else:
        label_slot = np.array([index.get(label, -1) for label in labels], dtype=np.int64)
    unknown = np.flatnonzero(label_slot < 0)
    if len(unknown) and tail is not None:
        bucket = tail.bucket_of([labels[int(i)] for i in unknown])
        label_slot[unknown] = np.where(bucket >= 0, len(values) + bucket, new_slot)
    elif len(unknown):
        label_slot[unknown] = new_slot
    return label_slot


def parsed_numbers(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A column's values as floats (what is not a number: NaN) and where it was missing."""
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        missing = series.isna().to_numpy()
        parsed = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        parsed = series.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(parsed)
    return parsed, missing
