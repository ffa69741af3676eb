"""Pearson's chi-square test of the current counts against the reference frequencies.

As Evidently: over the values seen in either sample, ``scipy.stats.chisquare(current counts,
expected = reference share * current count)``. A value the reference never had has an expected
count of 0, so the statistic is infinite and the p-value 0: a new category is drift. Numerical
columns with few values are compared value by value (see :mod:`modelmon.engine.drift.binning`).
With a single value in both samples there is nothing to compare: statistic 0, p-value 1 (scipy
would return a p-value of NaN for zero degrees of freedom).

Like Evidently's, this test treats the reference shares as exact, ignoring that the reference is a
sample too: the statistic runs about ``1 + n_current / n_reference`` times larger than a
two-sample test's, so with a reference no larger than the current batch it flags more than the
threshold's share of unchanged columns. That keeps decisions identical to Evidently's; the default
uses it only for references of at most 1000 rows. On a numerical column with quantile edges, every
cell counts as a value, which is not what the test is meant for.

>>> import pandas as pd
>>> from modelmon.engine.columns import CategoricalColumn
>>> categories = ("a", "b")
>>> reference = CategoricalColumn.from_series(categories, pd.Series(["a"] * 50 + ["b"] * 50))
>>> current = CategoricalColumn.from_series(categories, pd.Series(["a"] * 80 + ["b"] * 20))
>>> statistic, p_value = chisquare(reference, current, exact=True)
>>> round(statistic, 1), bool(p_value < 0.05)
(36.0, True)
"""

from __future__ import annotations

import numpy as np

from modelmon.engine.drift.binning import Column, require_values, value_counts

__all__ = ["chisquare"]


def chisquare(reference: Column, current: Column, exact: bool) -> tuple[float, float]:
    """Chi-square statistic and p-value.

    Computed as ``scipy.stats.chisquare`` computes them (Pearson's sum of ``(observed -
    expected)**2 / expected``, then ``chdtrc(values - 1, statistic)``) without its argument
    handling, which costs about ten times the test itself; an online window runs it for every
    column of every segment on each recompute. ``tests/engine/drift/test_drift_categories.py``
    checks the results against ``scipy.stats.chisquare``.
    """
    import scipy.special

    require_values(reference, current)
    ref, cur = value_counts(reference, current)
    if len(ref) < 2:
        return 0.0, 1.0
    observed = np.asarray(cur, dtype=np.float64)
    expected = ref * (cur.sum() / ref.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = np.sum((observed - expected) ** 2 / expected)
    return float(statistic), float(scipy.special.chdtrc(len(observed) - 1, statistic))
