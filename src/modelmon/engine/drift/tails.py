"""What a categorical drift score approximates, and by how much, when counts are not all exact.

Two things can be approximate (see :mod:`modelmon.engine.category_counts`):

* **A reference tail.** Beyond ``max_categories`` the reference's rarer categories are counted per
  hash bucket, and a test compares a bucket as one category. Every test here is a divergence that
  merging categories can only lower (the data-processing inequality), so the score is a *lower
  bound*. For Jensen-Shannon and Hellinger the upper bound follows from the bucket counts: a
  bucket holding one reference category is exact, and in a bucket of several the true term is at
  most the term of categories that never meet (``(p + q) ln 2 / 2`` of the divergence for
  Jensen-Shannon, ``0`` of the Bhattacharyya coefficient for Hellinger).
* **New names beyond the 1,000 counted by name.** Jensen-Shannon, Hellinger and chi-square are
  exact whatever the names (a value absent from one sample adds a term linear in its share, or an
  infinite statistic); PSI and KL fill empty bins per value and are not.

>>> import numpy as np, pandas as pd
>>> from modelmon.engine.category_counts import CategoryTail
>>> from modelmon.engine.columns import CategoricalColumn
>>> tail = CategoryTail.of([f"t{i}" for i in range(100)], buckets=8)
>>> reference = CategoricalColumn.from_series(("a",), pd.Series(["a"] * 100 + [f"t{i}" for i in range(100)]),
...                                           tail=tail)
>>> current = CategoricalColumn.from_series(("a",), pd.Series(["a"] * 100 + ["t1"] * 100), tail=tail)
>>> found = approximation("jensenshannon", reference, current, tail, score=0.3)
>>> found["reference_tail"]["score_range"][0], found["reference_tail"]["score_range"][1] > 0.3
(0.3, True)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from modelmon.engine.category_counts import MAX_NEW_NAMES, CategoryTail
from modelmon.engine.columns import CategoricalColumn

__all__ = ["approximation", "upper_bound"]

#: tests whose score merging new names leaves unchanged
_EXACT_FOR_NEW_NAMES = frozenset({"jensenshannon", "hellinger", "chisquare", "z"})


def _tail_shares(column: CategoricalColumn, tail: CategoryTail) -> np.ndarray:
    start = len(column.values)
    counts = column.counts[start : start + tail.buckets].astype(np.float64)
    return counts / column.count if column.count else counts


def upper_bound(
    method: str, score: float, reference: CategoricalColumn, current: CategoricalColumn, tail: CategoryTail
) -> float | None:
    """The largest score the unmerged tail categories could give (None: no bound for ``method``)."""
    p, q = _tail_shares(reference, tail), _tail_shares(current, tail)
    shared = tail.sizes >= 2
    p, q = p[shared], q[shared]
    if method == "jensenshannon":
        middle = (p + q) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(p > 0, p * np.log(p / middle), 0.0) + np.where(
                q > 0, q * np.log(q / middle), 0.0
            )
        extra = float(np.sum(middle * math.log(2) - terms / 2))
        return min(math.sqrt(max(score, 0.0) ** 2 + max(extra, 0.0)), math.sqrt(math.log(2)))
    if method == "hellinger":
        return min(math.sqrt(max(score, 0.0) ** 2 + float(np.sum(np.sqrt(p * q)))), 1.0)
    return None


def approximation(
    method: str,
    reference: CategoricalColumn,
    current: CategoricalColumn,
    tail: CategoryTail | None,
    score: float | None,
) -> dict[str, Any] | None:
    """What the score of a categorical column approximates, with its bound; None when it is exact."""
    found: dict[str, Any] = {}
    if tail is not None and (reference.tail_count or current.tail_count):
        high = upper_bound(method, score, reference, current, tail) if score is not None else None
        found["reference_tail"] = {
            "exact_categories": len(reference.values),
            "tail_categories": tail.categories,
            "tail_buckets": tail.buckets,
            "reference_tail_share": reference.tail_count / reference.count if reference.count else None,
            "current_tail_share": current.tail_count / current.count if current.count else None,
            "score_range": [score, high] if score is not None else None,
            "bound": (
                "score is a lower bound (tail categories compared per hash bucket); "
                + ("no closed-form upper bound for this test" if high is None else "upper bound given")
            ),
        }
    error = max(reference.unseen_error, current.unseen_error)
    if error and method not in _EXACT_FOR_NEW_NAMES:
        found["new_categories"] = {
            "named": MAX_NEW_NAMES,
            "max_undercount": error,
            "bound": (
                f"new values beyond {MAX_NEW_NAMES} names are compared as one value; each listed count is "
                f"at most {error} below the truth"
            ),
        }
    return found or None
