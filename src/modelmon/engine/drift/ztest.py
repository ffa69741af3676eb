"""Two-proportion Z-test, for columns with two values.

As Evidently: the values of both samples are sorted, each value is 0 when it equals the first one
and 1 otherwise, and the two shares of 1 are compared with the pooled-variance Z statistic
``z = (p_ref - p_cur) / sqrt(P (1 - P) (1/n_ref + 1/n_cur))``; the two-sided p-value is
``2 * norm.sf(|z|)`` (Evidently writes ``2 * (1 - norm.cdf(|z|))``, equal except that it rounds to
0 below about 1e-16). When both samples hold the same single value, the p-value is 1.

>>> import pandas as pd
>>> from modelmon.engine.columns import CategoricalColumn
>>> categories = ("no", "yes")
>>> reference = CategoricalColumn.from_series(categories, pd.Series(["no"] * 70 + ["yes"] * 30))
>>> current = CategoricalColumn.from_series(categories, pd.Series(["no"] * 40 + ["yes"] * 60))
>>> z, p_value = ztest(reference, current, exact=True)
>>> round(z, 2), bool(p_value < 0.05)
(-4.26, True)
"""

from __future__ import annotations

import numpy as np

from modelmon.engine.drift.binning import Column, require_values, sorted_value_counts

__all__ = ["ztest"]


def ztest(reference: Column, current: Column, exact: bool) -> tuple[float, float]:
    """Z statistic and two-sided p-value.

    ``norm.sf(x)`` is computed as scipy's standard normal computes it, ``ndtr(-x)``, without its
    argument handling (about twenty times the function's own time; an online window runs the test
    for every two-valued column of every segment). ``tests/engine/drift/test_drift_histograms.py``
    checks it equal to ``2 * scipy.stats.norm.sf(|z|)``.
    """
    import scipy.special

    require_values(reference, current)
    ref, cur = sorted_value_counts(reference, current)
    if len(ref) == 1:
        return 0.0, 1.0
    n_ref, n_cur = int(ref.sum()), int(cur.sum())
    share_ref, share_cur = 1 - ref[0] / n_ref, 1 - cur[0] / n_cur
    pooled = (share_ref * n_ref + share_cur * n_cur) / (n_ref + n_cur)
    z = (share_ref - share_cur) / np.sqrt(pooled * (1 - pooled) * (1 / n_ref + 1 / n_cur))
    return float(z), float(2 * scipy.special.ndtr(-abs(z)))
