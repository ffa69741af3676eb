"""Which cell of a numerical profile each value falls in: a binary search, and a faster exact lookup.

For edges ``e0 < e1 < ... < ek`` the cells are ``x < e0``, ``x == e0``, ``e0 < x < e1``, ``x == e1``,
..., ``x > ek``, numbered 0 to ``2k + 2``: the interval after edge ``j - 1`` is cell ``2j`` and the
edge ``j`` itself is cell ``2j + 1``. A value's cell is the number of edges below it plus the number
at or below it. :func:`cells_of` finds it with one binary search per value; :class:`EdgeLookup`
finds the same cells about ten times faster (``python -m bench.cells_lookup``).

>>> edges = np.array([1.0, 2.0, 3.0])
>>> cells_of(edges, np.array([0.5, 1.0, 1.5, 7.0])).tolist()
[0, 1, 2, 6]
"""

from __future__ import annotations

import numpy as np

__all__ = ["EdgeLookup", "cells_of"]


def cells_of(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Cell of each finite value: ``2j`` for the interval after edge ``j-1``, ``2j+1`` for edge ``j``."""
    right = np.searchsorted(edges, values, side="right")
    # edges[right - 1] is the largest edge <= value; a leading -inf stands in when there is none
    previous = np.concatenate(([-np.inf], edges))[right]
    cells = right * 2
    cells -= previous == values
    return cells


class EdgeLookup:
    """Cells of many values over fixed edges, faster than one binary search per value.

    Values are mapped to ``grid`` slots by a non-decreasing function, applied alike to the edges:
    edges in slots before a value's slot are below it and edges in later slots above it. A value's
    cell is then twice the number of edges before its slot plus its two comparisons with the slot's
    edge, when the slot holds one; only values in slots holding several edges are searched. Slots
    are uniform either in value or in the bits of the float, which is about uniform in the
    logarithm and suits skewed, heavy-tailed columns; the one leaving fewer edges in shared slots
    is used. The cells are exactly those of :func:`cells_of`.

    >>> edges = np.array([0.0, 1.0, 2.5])
    >>> values = np.array([-1.0, 0.0, 0.3, 1.0, 2.0, 2.5, 9.0])
    >>> EdgeLookup(edges).cells(values).tolist() == cells_of(edges, values).tolist()
    True
    """

    def __init__(self, edges: np.ndarray, grid: int = 1 << 16) -> None:
        self.edges = edges
        self._top = grid
        self._low, high = float(edges[0]), float(edges[-1])
        width = high - self._low
        self._scale = grid / width if high > self._low and np.isfinite(width) else 0.0
        if not np.isfinite(self._scale):  # a range of a few subnormals: search every value instead
            self._scale = 0.0
        if self._scale == 0.0:
            return
        # by bits: magnitudes below the smallest nonzero edge share one key, so that a column
        # around zero does not spend its slots on the ~2,000 binades of tiny numbers
        nonzero = np.abs(edges[edges != 0.0])
        tiny = float(nonzero.min()) if self._low < 0.0 < high and len(nonzero) else 0.0
        self._zero_keys = tuple(int(key) for key in _float_keys(np.array([-tiny, tiny])))
        key_low, key_high = (int(key) for key in self._bit_keys(edges[[0, -1]]))
        self._key_range = key_low, key_high
        # the shifted key range fits the grid (shifted before subtracting: it may not fit 64 bits)
        self._shift = max((key_high - key_low).bit_length() - grid.bit_length() + 1, 0)
        by_value, by_bits = self._slots(edges, False), self._slots(edges, True)
        self._bits = bool(_shared(by_bits).sum() < _shared(by_value).sum())
        self._twice_before, self._crowded = self._tables(by_bits if self._bits else by_value)
        self._any_crowded = bool(self._crowded.any())
        # at 2j the edge j (+inf past the last): indexed by twice the edges before a value's slot, the
        # slot's own edge if it holds one, else the first edge of a later slot, which is above the value
        self._next_edge = np.repeat(np.append(edges, np.inf), 2)

    def _bit_keys(self, values: np.ndarray) -> np.ndarray:
        keys = _float_keys(values)
        low, high = self._zero_keys
        if low != high:  # keys between those of -tiny and tiny collapse onto one
            keys -= np.clip(keys, low, high)
            keys += low
        return keys

    def _slots(self, values: np.ndarray, bits: bool) -> np.ndarray:
        if bits:
            keys = self._bit_keys(values)
            np.clip(keys, *self._key_range, out=keys)
            keys >>= self._shift
            keys -= self._key_range[0] >> self._shift
            return keys
        with np.errstate(over="ignore"):  # huge values overflow to inf, then clip to the last slot
            scaled = values - self._low
            scaled *= self._scale
        np.clip(scaled, 0.0, float(self._top), out=scaled)
        return scaled.astype(np.int64)

    def _tables(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per slot, from the edges' (non-decreasing) slots: twice the edges in slots before it, and
        whether it holds several. Built from the edges alone: no pass over every slot but the fill."""
        # the smallest integers that hold every cell: 2 bytes a slot for up to 16,382 edges, so a
        # thousand wide columns' tables take about 200 MB instead of 600
        small = np.int16 if 2 * len(self.edges) + 2 < np.iinfo(np.int16).max else np.int64
        # "edges before" steps up by one just past each edge's slot: j edges before, from the slot
        # after edge j - 1's to edge j's
        runs = np.diff(slots, prepend=-1, append=self._top)
        twice_before = np.repeat(np.arange(0, 2 * len(slots) + 2, 2, dtype=small), runs)
        crowded = np.zeros(self._top + 1, dtype=bool)
        crowded[slots[_shared(slots)]] = True
        return twice_before, crowded

    def cells(self, values: np.ndarray) -> np.ndarray:
        """Cell of each finite value, as :func:`cells_of` gives it."""
        if self._scale == 0.0 or len(values) < 1024:
            return cells_of(self.edges, values)
        slot = self._slots(values, self._bits)
        # cast once: gathering with small integers is several times slower, and counting casts too
        cells = self._twice_before[slot].astype(np.intp)
        edge = self._next_edge[cells]
        cells += values > edge  # past the slot's edge: the interval after it
        cells += values >= edge  # on it or past it: the edge's own cell
        if self._any_crowded:
            crowded = self._crowded[slot]
            if crowded.any():
                cells[crowded] = cells_of(self.edges, values[crowded])
        return cells


def _shared(slots: np.ndarray) -> np.ndarray:
    """Which edges share their slot with another (values in such slots are searched)."""
    same = slots[1:] == slots[:-1]
    return np.concatenate(([False], same)) | np.concatenate((same, [False]))


def _float_keys(values: np.ndarray) -> np.ndarray:
    """Integers in the order of the floats (``a < b`` gives ``key(a) < key(b)``); -0.0 keys as 0.0."""
    bits = (np.asarray(values, dtype=np.float64) + 0.0).view(np.int64)  # + 0.0 turns -0.0 into 0.0
    return bits ^ ((bits >> 63) & np.int64(0x7FFF_FFFF_FFFF_FFFF))
