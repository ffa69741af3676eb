"""A column's values as floats, what is not a number as NaN, read without pandas' parsing when the
column already holds plain numbers.

``pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=nan)`` costs 20-30 µs a
column even when there is nothing to parse; the outlier scores and the label-free estimate read
every numerical feature of each recompute's few dozen new rows that way, several times over.
:func:`as_floats` gives the same floats from a numpy integer or float column with one cast, and
asks pandas for anything else (text, objects, booleans, nullable and Arrow types, dates);
``tests/engine/test_floats.py`` checks both paths against pandas' on each kind of column.

>>> import pandas as pd
>>> as_floats(pd.Series([1, 2, 3])).tolist(), as_floats(pd.Series(["1.5", "a", None])).tolist()
([1.0, 2.0, 3.0], [1.5, nan, nan])
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["as_floats"]


def as_floats(series: pd.Series) -> np.ndarray:
    """The column's values as a new float array (NaN for what is missing or not a number)."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
        return series.to_numpy().astype(np.float64)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
