"""Sentences that name what a drift or quality figure approximates, and by how much.

>>> approximation_text({"reference_tail": {"exact_categories": 2, "tail_categories": 5, "tail_buckets": 4,
...     "current_tail_share": 0.25, "score_range": [0.1, 0.2]}})
'approximate: 5 reference categories beyond the 2 counted by name are counted in 4 hash buckets \
(25.0% of current values); score between 0.1 and 0.2'
>>> approximation_text(None) is None
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["approximation_text"]


def _share(value: Any) -> str:
    return f"{value:.1%}" if isinstance(value, int | float) else "?"


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def approximation_text(approximation: Mapping[str, Any] | None) -> str | None:
    """One sentence per approximation of a column's result, or None when it is exact."""
    if not approximation:
        return None
    parts = []
    tail = approximation.get("reference_tail")
    if tail:
        share = tail.get("current_tail_share", tail.get("tail_share"))
        sentence = (
            f"{tail['tail_categories']:,} reference categories beyond the {tail['exact_categories']:,} "
            f"counted by name are counted in {tail['tail_buckets']:,} hash buckets ({_share(share)} of "
            "current values)"
        )
        score_range = tail.get("score_range")
        if score_range and score_range[1] is not None:
            sentence += f"; score between {_number(score_range[0])} and {_number(score_range[1])}"
        elif score_range:
            sentence += f"; score {_number(score_range[0])} is a lower bound"
        if tail.get("most_frequent_share_upper_bound") is not None:
            sentence += f"; top share at most {_share(tail['most_frequent_share_upper_bound'])}"
        parts.append(sentence)
    new = approximation.get("new_categories")
    if new:
        parts.append(
            f"new categories beyond {new['named']:,} names are summarised; a listed count is at most "
            f"{new['max_undercount']:,} below the truth"
        )
    return "approximate: " + "; ".join(parts)
