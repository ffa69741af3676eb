"""Per-segment drift results kept from one recompute of a window to the next, reused where nothing
changed.

A window's recompute tests every feature of every segment value against the same segment of the
reference: about 190 drift tests for the demo taxi model, most of a recompute's time once the new
rows are profiled. Between two recomputes most of those inputs do not move: a recompute with only
late targets changes no event summary at all, and a few dozen new events touch a few segment values.
A segment value whose current summaries are equal to those of the last recompute (its rows, and for
each feature every cell's count and sum and the totals), tested against the same reference part with
the same settings, has the same result; the memo gives it back instead of testing again. Equal inputs
give identical results, so a memo changes the time only, which
``tests/engine/test_segment_drift_memo.py`` checks on the same windows with and without one.

>>> import numpy as np, pandas as pd
>>> from modelmon.engine.profile import ProfileSpec
>>> from modelmon.engine.segment_drift import segment_drift
>>> from modelmon.schema import Schema
>>> rng = np.random.default_rng(0)
>>> def frame(rows):
...     return pd.DataFrame({"x": rng.normal(0, 1, rows).round(2), "zone": rng.choice(["a", "b"], rows)})
>>> spec = ProfileSpec.fit(frame(2000), Schema(numerical=["x"], segments=["zone"]), parts=["segment_drift"])
>>> reference, current = spec.profile(frame(2000)), spec.profile(frame(2000))
>>> memo = SegmentDriftMemo()
>>> first = segment_drift(reference, current, memo=memo)
>>> again = segment_drift(reference, current, memo=memo)
>>> again == first, memo.reused, memo.computed
(True, 2, 2)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from modelmon.config import DriftSettings

if TYPE_CHECKING:
    from modelmon.engine.drift import Choice
    from modelmon.engine.profile import Profile
    from modelmon.engine.segment_drift import Sparse

__all__ = ["SegmentDriftMemo"]


def _same(first: Sparse, second: Sparse) -> bool:
    """Whether two sparse summaries hold the same values (the drift tests read nothing else)."""
    from modelmon.engine.segment_drift import SparseNumerical

    if first is second:  # a window's total kept while nothing moved hands back the same summaries
        return True
    if isinstance(first, SparseNumerical) and isinstance(second, SparseNumerical):
        return (
            first.totals == second.totals
            and np.array_equal(first.cells, second.cells)
            and np.array_equal(first.counts, second.counts)
            and np.array_equal(first.sums, second.sums)
        )
    if isinstance(first, SparseNumerical) or isinstance(second, SparseNumerical):
        return False
    one, other = first.column, second.column
    return (
        one.size == other.size
        and one.missing == other.missing
        and one.type_errors == other.type_errors
        and one.unseen_error == other.unseen_error
        and one.unseen == other.unseen
        and np.array_equal(one.slots, other.slots)
        and np.array_equal(one.slot_counts, other.slot_counts)
    )


@dataclass
class _Kept:
    rows: int
    summaries: dict[str, Sparse]
    entry: dict[str, Any]


def _copy(entry: dict[str, Any]) -> dict[str, Any]:
    """A copy of a segment's entry down to its columns, so a reader changing one result cannot
    change the kept one."""
    columns = {name: dict(column) for name, column in entry["columns"].items()}
    return {**entry, "drifted_columns": list(entry["drifted_columns"]), "columns": columns}


class SegmentDriftMemo:
    """The last result of each segment value, with the inputs it was computed from.

    ``reused`` and ``computed`` count the segment values given back and tested since the memo was
    made (or since the reference or the settings changed, which forgets everything).
    """

    def __init__(self) -> None:
        self._reset(None, None, None)

    def _reset(self, reference: Any, settings: DriftSettings | None, min_rows: int | None) -> None:
        self._reference = reference
        self._settings = settings
        self._min_rows = min_rows
        self._kept: dict[tuple[str, str], _Kept] = {}
        self._references: dict[tuple[str, str], Profile] = {}
        self._choices: dict[tuple[str, str], dict[str, Choice]] = {}
        self.reused = 0
        self.computed = 0

    def begin(self, reference: Any, settings: DriftSettings, min_rows: int) -> None:
        """Start a recompute against ``reference`` (the reference's segment drift part)."""
        if reference is not self._reference or settings != self._settings or min_rows != self._min_rows:
            self._reset(reference, settings, min_rows)

    def reference_profile(self, segment: str, bucket: str, build: Callable[[], Profile]) -> Profile:
        """The reference's profile of a segment value, built by ``build`` once per reference: the
        reference side of every test is the same from one recompute to the next, and building its
        dense columns again was a tenth of the tests' own time."""
        profile = self._references.get((segment, bucket))
        if profile is None:
            profile = self._references[(segment, bucket)] = build()
        return profile

    def choices(self, segment: str, bucket: str) -> dict[str, Choice]:
        """The drift tests chosen for a segment value's features where its reference alone decides
        them (:func:`~modelmon.engine.drift.data_drift` reads and fills it), kept per reference."""
        return self._choices.setdefault((segment, bucket), {})

    def get(
        self, segment: str, bucket: str, rows: int, summaries: dict[str, Sparse]
    ) -> dict[str, Any] | None:
        """The kept entry of a segment value when its current inputs are the same, else ``None``."""
        kept = self._kept.get((segment, bucket))
        if kept is None or kept.rows != rows or kept.summaries.keys() != summaries.keys():
            return None
        if not all(_same(kept.summaries[name], summary) for name, summary in summaries.items()):
            return None
        # hold the window's newer, equal summaries, so the older ones are freed with their profile
        kept.summaries = dict(summaries)
        self.reused += 1
        return _copy(kept.entry)

    def put(
        self, segment: str, bucket: str, rows: int, summaries: dict[str, Sparse], entry: dict[str, Any]
    ) -> None:
        """Keep a segment value's freshly computed entry with its inputs."""
        self.computed += 1
        self._kept[(segment, bucket)] = _Kept(rows, dict(summaries), _copy(entry))
