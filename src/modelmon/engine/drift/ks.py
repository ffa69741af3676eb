"""Two-sample Kolmogorov-Smirnov test, from the cumulative counts of two numerical profiles.

The statistic is ``D = sup_x |F_ref(x) - F_cur(x)|`` over the two empirical CDFs.

Why the cells give it exactly. Let the edges be ``e0 < ... < ek`` and suppose no interval cell
holds values of *both* samples (true whenever the edges are all the reference's unique values, since
the reference then has nothing between edges). Both CDFs are right-continuous step functions, so
``D(x) = F_ref(x) - F_cur(x)`` is known at every edge (cumulative count through the cell
``x == e``) and just before it (cumulative count through the cell before). On an open interval
``(e_j, e_j+1)`` only one of the two CDFs can move, and it only rises: ``D`` is monotone there, so
its extreme values on the interval are its limits at the two ends, which are ``D(e_j)`` and
``D(e_j+1 -)``. Below ``e0`` and above ``ek`` the same argument holds with the range ends. Hence
``D = max |cumulative difference|`` over the ends of all cells, with nothing lost.

When both samples have values inside the same interval cell (quantile edges), that maximum is a
lower bound, and ``D`` can exceed it by at most the largest share either sample has inside such a
cell: :func:`ks_statistic_bounds` returns both, and the tests check the bound.

The p-value follows scipy's ``ks_2samp`` default (``method="auto"``, two-sided): exact when both
samples have at most 10,000 values, else Smirnov's asymptotic ``kstwo.sf(D, round(n*m/(n+m)))``.
scipy has no public function for the exact two-sample distribution, but ``ks_2samp`` depends on the
data only through ``n``, ``m`` and ``D``: each cell's index repeated by the cell's count has the
same ``n``, ``m`` and ``D``, so its exact p-value is the one wanted. It is computed as ``ks_2samp``
computes it for those samples, from the integer counts straight to scipy's own path-counting
function (:func:`_exact_p_value`; tested equal to ``ks_2samp`` on the repeated indices). ``kstwo.sf`` itself
takes up to seconds for a million values, so above an effective size ``n*m/(n+m)`` of 10,000 we use
Kolmogorov's limiting distribution with Stephens' small-sample correction,
``kstwobign.sf(D * (sqrt(N) + 0.12 + 0.11 / sqrt(N)))``: it differs from scipy's value by less than
0.5% (relative) for p-values above 0.001, by less than 4% down to 1e-12, and takes microseconds.

>>> import numpy as np
>>> from modelmon.engine.columns import NumericalColumn
>>> values = np.arange(50.0)
>>> reference = NumericalColumn.from_values(values, values)
>>> current = NumericalColumn.from_values(values, values + 10)
>>> statistic, p_value = ks(reference, current, exact=True)
>>> round(statistic, 2), bool(p_value < 0.05)
(0.2, False)
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from modelmon.engine.columns import NumericalColumn
from modelmon.engine.drift.binning import Column, require_values
from modelmon.errors import InputError

__all__ = ["ASYMPTOTIC_MAX_SIZE", "EXACT_MAX_VALUES", "ks", "ks_statistic_bounds"]

#: as scipy's ks_2samp(method="auto"): exact p-value when both samples are at most this large
EXACT_MAX_VALUES = 10_000
#: above this effective size n*m/(n+m), Kolmogorov's limit (Stephens-corrected) replaces kstwo
ASYMPTOTIC_MAX_SIZE = 10_000


def _present(reference: NumericalColumn, current: NumericalColumn) -> np.ndarray:
    """The cells where either sample has values. Between two of them neither cumulative count
    moves (a cumulative sum adds exact zeros there), so each difference of the two CDFs read at any
    cell is also read at one of these, or is 0 before the first: the statistic, its bound and the
    exact p-value's ``h`` come out the same from these cells alone, a few hundred instead of the
    reference's few thousand for a segment's feature."""
    return np.flatnonzero((reference.cell_counts > 0) | (current.cell_counts > 0))


def _shares(counts: np.ndarray, total: int) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative share through each cell, and the share in each cell."""
    cells = counts / total
    return np.cumsum(cells), cells


def _difference(
    ref: np.ndarray, cur: np.ndarray, n: int, m: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The difference of the two CDFs at the ends of the cells of counts ``ref`` and ``cur``
    (samples of ``n`` and ``m`` values), and each cell's shares."""
    cumulative_ref, cells_ref = _shares(ref, n)
    cumulative_cur, cells_cur = _shares(cur, m)
    return cumulative_ref - cumulative_cur, cells_ref, cells_cur


def ks_statistic_bounds(
    reference: NumericalColumn, current: NumericalColumn, present: np.ndarray | None = None
) -> tuple[float, float]:
    """The KS statistic read at cell ends (a lower bound, exact as explained above) and an upper bound."""
    present = _present(reference, current) if present is None else present
    difference, cells_ref, cells_cur = _difference(
        reference.cell_counts[present], current.cell_counts[present], reference.count, current.count
    )
    statistic = float(np.abs(difference).max())
    # inside an interval cell (the even ones) D moves between (before + ref share) and
    # (before - current share)
    intervals = present % 2 == 0
    before = difference[intervals] - cells_ref[intervals] + cells_cur[intervals]
    both = (cells_ref[intervals] > 0) & (cells_cur[intervals] > 0)
    reach = np.maximum(before + cells_ref[intervals], cells_cur[intervals] - before)[both]
    upper = max(statistic, float(reach.max())) if reach.size else statistic
    return statistic, upper


def _ks_2samp(reference: np.ndarray, current: np.ndarray) -> Any:
    """``scipy.stats.ks_2samp`` of two 1-d samples without NaN, skipping the decorator that
    handles axes and NaN policies (about three quarters of a call's time; an online window runs
    the test for every column of every segment on each recompute); a scipy without that switch
    gets the ordinary call. ``tests/engine/drift/test_drift_ks.py`` checks the p-values against
    the ordinary call on raw values."""
    import scipy.stats

    try:
        return scipy.stats.ks_2samp(reference, current, _no_deco=True)
    except TypeError:
        return scipy.stats.ks_2samp(reference, current)


def _exact_p_value(
    reference: NumericalColumn,
    current: NumericalColumn,
    present: np.ndarray | None = None,
    counts: tuple[np.ndarray, np.ndarray] | None = None,
) -> float | None:
    """``ks_2samp``'s two-sided exact p-value of the repeated cell indices, the way scipy computes
    it, from the integer counts: its ``h`` is ``D * lcm(n, m)``, here ``max |i*m - j*n| / gcd``
    over the cumulative counts ``i``, ``j`` (the integer scipy rounds its float product to), handed
    to scipy's own path-counting function. This skips building, sorting and searching the repeated
    samples, most of a test's time on a window's segments. ``None`` when scipy's exact method would
    fail (scipy then gives its asymptotic value) or this scipy lacks the function: the caller asks
    ``ks_2samp`` itself. ``counts``: the two columns' counts at ``present``, when already read."""
    from scipy.stats import _stats_py

    inside = getattr(_stats_py, "_compute_outer_prob_inside_method", None)
    square = getattr(_stats_py, "_compute_prob_outside_square", None)
    if inside is None or square is None:
        return None
    n, m = int(reference.count), int(current.count)
    if counts is None:
        present = _present(reference, current) if present is None else present
        counts = reference.cell_counts[present], current.cell_counts[present]
    difference = np.cumsum(counts[0]) * m - np.cumsum(counts[1]) * n
    g = math.gcd(n, m)
    h = int(np.abs(difference).max(initial=0)) // g
    if h == 0:
        return 1.0
    try:
        with np.errstate(invalid="raise", over="raise"):
            p_value = float(square(n, h) if n == m else inside(n, m, g, h))
    except (FloatingPointError, OverflowError):
        return None
    return p_value if 0 <= p_value <= 1 else None


def _p_value(
    reference: NumericalColumn,
    current: NumericalColumn,
    statistic: float,
    present: np.ndarray | None = None,
    counts: tuple[np.ndarray, np.ndarray] | None = None,
) -> float:
    import scipy.stats

    n, m = reference.count, current.count
    if max(n, m) <= EXACT_MAX_VALUES:
        exact = _exact_p_value(reference, current, present, counts)
        if exact is not None:
            return exact
        cells = np.arange(len(reference.cell_counts))
        samples = np.repeat(cells, reference.cell_counts), np.repeat(cells, current.cell_counts)
        with warnings.catch_warnings():
            # with many ties scipy's exact method can fail; it then returns its asymptotic p-value,
            # as Evidently's call does, and says so in a warning that is not an error of the input
            warnings.filterwarnings("ignore", "ks_2samp: Exact calculation unsuccessful", RuntimeWarning)
            return float(_ks_2samp(*samples).pvalue)
    effective = np.round(n * m / (n + m))
    if effective <= ASYMPTOTIC_MAX_SIZE:
        p_value = scipy.stats.kstwo.sf(statistic, effective)
    else:
        root = np.sqrt(effective)
        p_value = scipy.stats.kstwobign.sf(statistic * (root + 0.12 + 0.11 / root))
    return float(np.clip(p_value, 0.0, 1.0))


def ks(reference: Column, current: Column, exact: bool) -> tuple[float, float]:
    """KS statistic and p-value. ``exact`` is not needed: exactness is read from the cells."""
    if not isinstance(reference, NumericalColumn) or not isinstance(current, NumericalColumn):
        raise InputError("the KS test applies to numerical columns only")
    require_values(reference, current)
    present = _present(reference, current)
    # the counts read once for the statistic and the p-value; the statistic's bound is not needed
    counts = reference.cell_counts[present], current.cell_counts[present]
    difference, _, _ = _difference(*counts, reference.count, current.count)
    statistic = float(np.abs(difference).max())
    return statistic, _p_value(reference, current, statistic, present, counts)
