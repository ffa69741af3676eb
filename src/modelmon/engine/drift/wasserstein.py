"""Normed Wasserstein distance: ``W1(reference, current) / std(reference)``, as Evidently computes it.

``W1 = integral |F_ref(x) - F_cur(x)| dx``, and the norm is the reference's population standard
deviation, floored at 0.001 as in Evidently (a constant reference would otherwise divide by zero).

From cells. Split the line at the edges. The edges themselves have no width, so
``W1 = sum over interval cells (e_j, e_j+1) of integral |D|`` with ``D = F_ref - F_cur`` (the two
tails run from the smaller minimum to ``e0`` and from ``ek`` to the larger maximum). Inside one cell
each CDF starts from its cumulative share ``a`` before the cell, and because the cell keeps the sum
``s`` of its ``c`` values, the integral of each CDF over the cell is known exactly:
``integral F = a * width + (c * right - s) / n``. So ``integral D`` is exact, and

* when ``D`` keeps one sign across the cell, ``integral |D| = |integral D|`` exactly. That is always
  so in the tails beyond the reference's range (there ``F_ref`` is 0 or 1), and in every cell where
  the CDF that rises inside the cell does not cross the other one's level;
* otherwise ``integral |D|`` lies between ``|integral D|`` and that plus
  ``2 * width * min(max D, -min D)``, where ``D``'s range in the cell follows from the two shares.
  The slack is small where cells are narrow or hold little mass: with fine quantile edges, each
  cell holds about 1/1000 of the reference.

The score is the distance between the profiles with each cell's values moved to the cell's mean
(edges stay where they are). That distribution has the same counts and sums per cell, so its distance
lies inside the same bounds: ``|score - exact| <= (upper - lower) / std``, which
:func:`wasserstein_bounds` returns and the tests check on several distributions.

>>> import numpy as np
>>> from modelmon.engine.columns import NumericalColumn
>>> rng = np.random.default_rng(0)
>>> values = rng.normal(size=2000)
>>> edges = np.quantile(values, np.linspace(0, 1, 101))
>>> reference = NumericalColumn.from_values(edges, values)
>>> current = NumericalColumn.from_values(edges, values + 0.5)
>>> round(wasserstein(reference, current, exact=False)[0], 2)
0.5
"""

from __future__ import annotations

import numpy as np

from modelmon.engine.columns import NumericalColumn
from modelmon.engine.drift.binning import Column, require_values
from modelmon.errors import InputError

__all__ = ["MIN_NORM", "reference_std", "wasserstein", "wasserstein_bounds"]

#: Evidently's floor for the reference standard deviation
MIN_NORM = 0.001


def reference_std(reference: NumericalColumn) -> float:
    """Population standard deviation; two-pass over the edges when all values sit on edges.

    The two-pass form avoids the cancellation of ``sum_sq / n - mean**2`` for large values with
    a small spread; with values between edges only the profile's sums can give it.
    """
    cells = reference.cell_counts
    if cells[0::2].any():
        return reference.std
    weights = cells[1::2] / reference.count
    mean = float(np.dot(weights, reference.edges))
    return float(np.sqrt(np.dot(weights, (reference.edges - mean) ** 2)))


def _positions(column: NumericalColumn) -> np.ndarray:
    """Where each cell's mass sits when moved to its mean (edges for edge cells)."""
    counts = column.cell_counts
    positions = np.empty(len(counts))
    positions[1::2] = column.edges
    positions[0::2] = np.concatenate((column.edges, column.edges[-1:]))
    filled = counts[0::2] > 0
    positions[0::2][filled] = column.cell_sums[0::2][filled] / counts[0::2][filled]
    return positions


def _interval_integrals(
    column: NumericalColumn, left: np.ndarray, right: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Per interval cell: share before it, share in it, and the integral of the CDF over it."""
    counts = column.cell_counts
    shares = counts / column.count
    before = (np.cumsum(shares) - shares)[0::2]
    inside = shares[0::2]
    integral = before * (right - left) + (counts[0::2] * right - column.cell_sums[0::2]) / column.count
    return before, inside, integral


def weighted_w1(u: np.ndarray, v: np.ndarray, u_weights: np.ndarray, v_weights: np.ndarray) -> float:
    """``W1`` between two weighted point sets: the area between their CDFs.

    The same computation as ``scipy.stats.wasserstein_distance(u, v, u_weights, v_weights)``,
    without importing scipy.stats (most of a cold start's time).

    >>> weighted_w1(np.array([0.0, 1.0]), np.array([1.0, 2.0]), np.array([1, 1]), np.array([1, 1]))
    1.0
    """
    u_order, v_order = np.argsort(u), np.argsort(v)
    points = np.concatenate((u, v))
    points.sort(kind="mergesort")
    steps = np.diff(points)
    u_cdf = np.searchsorted(u[u_order], points[:-1], "right")
    v_cdf = np.searchsorted(v[v_order], points[:-1], "right")
    u_running = np.concatenate(([0.0], np.cumsum(u_weights[u_order], dtype=float)))
    v_running = np.concatenate(([0.0], np.cumsum(v_weights[v_order], dtype=float)))
    u_share = u_running[u_cdf] / u_running[-1]
    v_share = v_running[v_cdf] / v_running[-1]
    return float(np.sum(np.abs(u_share - v_share) * steps))


def _estimate(reference: NumericalColumn, current: NumericalColumn) -> float:
    """``W1`` (not normed) between the profiles, each cell's mass at the mean of its values."""
    require_values(reference, current)
    return weighted_w1(_positions(reference), _positions(current), reference.cell_counts, current.cell_counts)


def wasserstein_bounds(reference: NumericalColumn, current: NumericalColumn) -> tuple[float, float, float]:
    """``W1`` (not normed) between the profiles: the estimate, a lower and an upper bound."""
    estimate = _estimate(reference, current)
    low, high = min(reference.min, current.min), max(reference.max, current.max)
    left = np.concatenate(([low], reference.edges))
    right = np.concatenate((reference.edges, [high]))
    width = np.maximum(right - left, 0.0)
    right = left + width
    ref_before, ref_inside, ref_integral = _interval_integrals(reference, left, right)
    cur_before, cur_inside, cur_integral = _interval_integrals(current, left, right)
    lower = np.abs(ref_integral - cur_integral)
    highest = ref_before + ref_inside - cur_before
    lowest = ref_before - cur_before - cur_inside
    slack = 2 * width * np.minimum(np.maximum(highest, 0.0), np.maximum(-lowest, 0.0))
    return float(estimate), float(lower.sum()), float((lower + slack).sum())


def wasserstein(reference: Column, current: Column, exact: bool) -> tuple[float, None]:
    """Normed Wasserstein distance (no p-value)."""
    if not isinstance(reference, NumericalColumn) or not isinstance(current, NumericalColumn):
        raise InputError("the Wasserstein distance applies to numerical columns only")
    return _estimate(reference, current) / max(reference_std(reference), MIN_NORM), None
