"""Kullback-Leibler divergence ``KL(reference || current)``, as Evidently computes it.

``scipy.stats.entropy(reference shares, current shares)`` (natural logarithm; scipy renormalises
the shares after Evidently's filling of empty bins, :func:`~modelmon.engine.drift.binning.fill_empty`).
Bins as in :func:`~modelmon.engine.drift.binning.binned_counts`.

>>> import pandas as pd
>>> from modelmon.engine.columns import CategoricalColumn
>>> categories = ("a", "b")
>>> reference = CategoricalColumn.from_series(categories, pd.Series(["a", "b"] * 50))
>>> current = CategoricalColumn.from_series(categories, pd.Series(["a"] * 70 + ["b"] * 30))
>>> round(kl_div(reference, current, exact=True)[0], 4)
0.0872
"""

from __future__ import annotations

from modelmon.engine.drift.binning import Column, binned_counts, fill_empty, require_values

__all__ = ["kl_div"]


def kl_div(reference: Column, current: Column, exact: bool) -> tuple[float, None]:
    """KL divergence (no p-value)."""
    import scipy.stats

    require_values(reference, current)
    ref, cur = binned_counts(reference, current, exact)
    ref_shares, cur_shares = fill_empty(ref / ref.sum()), fill_empty(cur / cur.sum())
    return float(scipy.stats.entropy(ref_shares, cur_shares)), None
