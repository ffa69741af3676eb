"""The buckets of a grouping column (a segment or a sensitive column): its ``TOP_VALUES`` most frequent
reference values by name, then ``"other"`` for the rest and ``"missing"``. Performance per segment,
fairness per group and drift per segment bucket rows alike.

>>> import pandas as pd
>>> reference = pd.DataFrame({"zone": ["a", "b", "a", None]})
>>> buckets = segment_buckets(reference, "zone")
>>> buckets
('a', 'b', 'other', 'missing')
>>> bucket_slots(pd.DataFrame({"zone": ["b", "q", None]}), "zone", buckets).tolist()
[1, 2, 3]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from modelmon.engine.column_reader import CategoricalReader
from modelmon.engine.columns import code_slots
from modelmon.engine.performance_parts import OTHER, label_slots, top_labels

__all__ = ["MISSING", "TOP_VALUES", "bucket_slots", "segment_buckets"]

#: values of a segment (or sensitive) column kept by name, most frequent in the reference first
TOP_VALUES = 20
MISSING = "missing"


def segment_buckets(reference: pd.DataFrame, column: str) -> tuple[str, ...]:
    """A grouping column's buckets: its ``TOP_VALUES`` most frequent reference values, OTHER, MISSING."""
    top = top_labels(reference[column], TOP_VALUES) if column in reference.columns else []
    return tuple(dict.fromkeys([*top, OTHER, MISSING]))


def bucket_slots(
    frame: pd.DataFrame, column: str, buckets: tuple[str, ...], reader: Any = None
) -> np.ndarray:
    """Bucket index of every row of ``frame`` for ``column`` (MISSING for all when it is absent);
    ``reader``: the column's reader of ``frame``'s rows, when one has factorized its labels already
    (a :class:`~modelmon.engine.column_reader.CategoricalReader`; any other is not used)."""
    index = {label: i for i, label in enumerate(buckets)}
    if column not in frame.columns:
        return np.full(len(frame), index[MISSING], dtype=np.int64)
    if isinstance(reader, CategoricalReader):
        return code_slots(reader.codes, reader.labels, index, other=index[OTHER], missing=index[MISSING])
    return label_slots(frame[column], index, other=index[OTHER], missing=index[MISSING])
