"""Population Stability Index, as Evidently computes it.

``PSI = sum (r - c) * ln(r / c)`` over the reference and current shares of each bin
(:func:`~modelmon.engine.drift.binning.binned_counts`), after Evidently's filling of empty bins
(:func:`~modelmon.engine.drift.binning.fill_empty`). Common reading: below 0.1 stable, 0.1 to 0.25
a moderate shift, above 0.25 a large one.

>>> import pandas as pd
>>> from modelmon.engine.columns import CategoricalColumn
>>> categories = ("a", "b")
>>> reference = CategoricalColumn.from_series(categories, pd.Series(["a", "b"] * 50))
>>> current = CategoricalColumn.from_series(categories, pd.Series(["a"] * 70 + ["b"] * 30))
>>> round(psi(reference, current, exact=True)[0], 3)
0.169
"""

from __future__ import annotations

import numpy as np

from modelmon.engine.drift.binning import Column, binned_counts, fill_empty, require_values

__all__ = ["psi"]


def psi(reference: Column, current: Column, exact: bool) -> tuple[float, None]:
    """PSI (no p-value)."""
    require_values(reference, current)
    ref, cur = binned_counts(reference, current, exact)
    ref_shares, cur_shares = fill_empty(ref / ref.sum()), fill_empty(cur / cur.sum())
    return float(np.sum((ref_shares - cur_shares) * np.log(ref_shares / cur_shares))), None
