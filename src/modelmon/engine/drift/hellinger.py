"""Hellinger distance ``sqrt(1 - sum sqrt(r * c))`` between reference and current shares.

As Evidently: categories (and every value of a numerical column) are compared value by value;
numerical columns over Sturges' equal-width bins on the combined range, where Evidently sizes the
bins by the number of *distinct* values of both samples, not the number of rows. The profile knows
that number when the edges are all the reference's unique values (new values inside one interval
cell count once, a lower bound); with quantile edges the values are taken to be distinct
(continuous data), so the row count stands in. Sturges' rule grows with the logarithm of that
number, so a miscount by a factor two moves the bin count by one. Bin boundaries move to cell
boundaries as described in :mod:`modelmon.engine.drift.binning`. No empty-bin filling.

>>> import pandas as pd
>>> from modelmon.engine.columns import CategoricalColumn
>>> categories = ("a", "b")
>>> reference = CategoricalColumn.from_series(categories, pd.Series(["a", "b"] * 50))
>>> current = CategoricalColumn.from_series(categories, pd.Series(["a"] * 90 + ["b"] * 10))
>>> round(hellinger(reference, current, exact=True)[0], 3)
0.325
"""

from __future__ import annotations

import numpy as np

from modelmon.engine.columns import NumericalColumn
from modelmon.engine.drift.binning import (
    Column,
    distinct_values,
    require_values,
    sturges_counts,
    value_counts,
)

__all__ = ["hellinger"]


def hellinger(reference: Column, current: Column, exact: bool) -> tuple[float, None]:
    """Hellinger distance (no p-value)."""
    require_values(reference, current)
    if isinstance(reference, NumericalColumn) and isinstance(current, NumericalColumn):
        distinct = distinct_values(reference, current) if exact else reference.count + current.count
        ref, cur = sturges_counts(reference, current, distinct)
    else:
        ref, cur = value_counts(reference, current)
    # 0.5 * sum (sqrt r - sqrt c)**2 equals Evidently's 1 - sum sqrt(r c) for shares summing to 1,
    # without its cancellation: identical samples give exactly 0 instead of about 1e-8
    squared = 0.5 * np.sum((np.sqrt(ref / ref.sum()) - np.sqrt(cur / cur.sum())) ** 2)
    return float(np.sqrt(min(squared, 1.0))), None
