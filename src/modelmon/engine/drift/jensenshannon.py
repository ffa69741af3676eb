"""Jensen-Shannon distance, as Evidently computes it.

``scipy.spatial.distance.jensenshannon(reference shares, current shares)`` with the natural
logarithm (scipy's default base, which Evidently keeps), so the distance lies in
``[0, sqrt(ln 2)] = [0, 0.833]``. Shares come from :func:`~modelmon.engine.drift.binning.binned_counts`;
unlike PSI and KL, empty bins are not filled (Evidently passes ``feel_zeroes=False`` here), which
makes the distance exact when several new values share one cell.

>>> import pandas as pd
>>> from modelmon.engine.columns import CategoricalColumn
>>> categories = ("a", "b")
>>> reference = CategoricalColumn.from_series(categories, pd.Series(["a", "b"] * 50))
>>> current = CategoricalColumn.from_series(categories, pd.Series(["a"] * 90 + ["b"] * 10))
>>> round(jensenshannon(reference, current, exact=True)[0], 3)
0.319
"""

from __future__ import annotations

import numpy as np

from modelmon.engine.drift.binning import Column, binned_counts, require_values

__all__ = ["jensenshannon"]


def jensenshannon(reference: Column, current: Column, exact: bool) -> tuple[float, None]:
    """Jensen-Shannon distance (no p-value)."""
    require_values(reference, current)
    ref, cur = binned_counts(reference, current, exact)
    p, q = ref / ref.sum(), cur / cur.sum()
    middle = (p + q) / 2
    # scipy.spatial.distance.jensenshannon's formula (natural log), without importing scipy
    divergence = _relative_entropy(p, middle) + _relative_entropy(q, middle)
    return float(np.sqrt(max(divergence, 0.0) / 2)), None


def _relative_entropy(p: np.ndarray, q: np.ndarray) -> float:
    present = p > 0
    return float(np.sum(p[present] * np.log(p[present] / q[present])))
