"""How a categorical column is counted: exactly up to stated bounds, with a stated error beyond.

* **Reference categories.** The ``max_categories`` most frequent reference categories (100,000
  by default) are kept by name and counted exactly. A reference with more has a *tail* (its rarer
  categories): each is known by a 64-bit hash of its label (8 bytes a category, in the spec) and
  counted in one of :data:`TAIL_BUCKETS` hash buckets. A value is told apart from the tail
  exactly, up to a 64-bit hash collision (probability about ``tail / 2**64`` per new value), so
  missing and new-category counts stay exact. Tests compare the buckets as categories; merging
  categories can only lower a divergence, so a score is a *lower bound*, and for Jensen-Shannon
  and Hellinger :mod:`modelmon.engine.drift.tails` gives the upper bound too.
* **New values** (in no reference category) are counted exactly in total, and per name up to
  :data:`MAX_NEW_NAMES` names; beyond, the names are a Misra-Gries summary (Agarwal et al.,
  "Mergeable summaries", 2012): a listed count is at most ``error`` below the true count, an
  unlisted name has at most ``error`` rows, and ``error <= unlisted rows / (MAX_NEW_NAMES + 1)``.

>>> tail = CategoryTail.of(["x", "y", "z"], buckets=2)
>>> tail.bucket_of(["y", "new"]).tolist()[1], int(tail.sizes.sum())
(-1, 3)
>>> prune_names({"a": 5, "b": 3, "c": 1}, error=0, capacity=2)
({'a': 4, 'b': 2}, 1)
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_MAX_CATEGORIES",
    "MAX_NEW_NAMES",
    "TAIL_BUCKETS",
    "CategoryTail",
    "label_hashes",
    "prune_names",
]

#: reference categories kept by name and counted exactly
DEFAULT_MAX_CATEGORIES = 100_000
#: hash buckets counting the reference categories beyond ``max_categories``
TAIL_BUCKETS = 4096
#: new (unseen) category names counted exactly; beyond, a Misra-Gries summary of this many names
MAX_NEW_NAMES = 1000
#: a fixed key: hashes must agree between processes and runs (profiles are stored and merged)
_HASH_KEY = "modelmon-cat-key"


def label_hashes(labels: Sequence[str]) -> np.ndarray:
    """Stable 64-bit hashes of category labels (the same in every process)."""
    array = np.asarray(labels, dtype=object)
    return np.asarray(pd.util.hash_array(array, encoding="utf8", hash_key=_HASH_KEY, categorize=False))


@dataclass(frozen=True)
class CategoryTail:
    """The reference's categories beyond the kept ones: their hashes, sorted, and their buckets."""

    hashes: np.ndarray
    buckets: int
    #: reference categories per bucket: a bucket holding one is counted exactly
    sizes: np.ndarray

    @classmethod
    def of(cls, labels: Sequence[str], buckets: int = TAIL_BUCKETS) -> CategoryTail:
        hashes = np.unique(label_hashes(labels))
        sizes = np.bincount((hashes % np.uint64(buckets)).astype(np.int64), minlength=buckets)
        return cls(hashes, buckets, sizes)

    @property
    def categories(self) -> int:
        return len(self.hashes)

    def bucket_of(self, labels: Sequence[str]) -> np.ndarray:
        """Each label's bucket, or -1 when it is not a tail category."""
        hashes = label_hashes(labels)
        position = np.searchsorted(self.hashes, hashes).clip(max=len(self.hashes) - 1)
        found = self.hashes[position] == hashes
        return np.where(found, (hashes % np.uint64(self.buckets)).astype(np.int64), -1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "buckets": self.buckets,
            "hashes": base64.b64encode(self.hashes.astype("<u8").tobytes()).decode(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoryTail:
        hashes = np.frombuffer(base64.b64decode(data["hashes"]), dtype="<u8").astype(np.uint64)
        buckets = int(data["buckets"])
        sizes = np.bincount((hashes % np.uint64(buckets)).astype(np.int64), minlength=buckets)
        return cls(hashes, buckets, sizes)


def prune_names(
    names: dict[str, int], error: int, capacity: int = MAX_NEW_NAMES
) -> tuple[dict[str, int], int]:
    """Keep at most ``capacity`` names (Misra-Gries): subtract the next count from all, drop the rest.

    Returns the names kept (most frequent first) and the new error bound (``error`` plus what
    was subtracted). With at most ``capacity`` names nothing changes and the counts stay exact.
    """
    ranked = sorted(names.items(), key=lambda pair: (-pair[1], pair[0]))
    if len(ranked) <= capacity:
        return dict(ranked), error
    cut = ranked[capacity][1]
    return {name: count - cut for name, count in ranked[:capacity] if count > cut}, error + cut
