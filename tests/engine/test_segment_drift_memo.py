"""The per-segment drift memo changes the time only: the same windows give the same results with and
without it, and it tests again exactly the segment values whose inputs moved."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelmon.config import DriftSettings
from modelmon.engine.profile import Profile, ProfileSpec
from modelmon.engine.segment_drift import segment_drift
from modelmon.engine.segment_drift_memo import SegmentDriftMemo
from modelmon.schema import Schema

SCHEMA = Schema(numerical=["distance", "fare"], categorical=["payment"], segments=["zone"])
ZONES = ["a", "b", "c", "d"]


def _frame(rows: int, seed: int, zones: list[str] = ZONES, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    distance = (rng.gamma(2.0, 1.5, rows) + shift).round(2)
    return pd.DataFrame(
        {
            "distance": distance,
            "fare": (3 + 2.5 * distance + rng.normal(0, 1, rows)).round(1),
            "payment": rng.choice(["card", "cash", "app"], rows, p=[0.6, 0.3, 0.1]),
            "zone": rng.choice(zones, rows),
        }
    )


def _windows(spec: ProfileSpec) -> list[Profile]:
    """A window as it moves: rows added to one zone, to two, none, then a shift in zone d."""
    current = spec.profile(_frame(2000, 1))
    windows = [current]
    for seed, zones, shift in ((2, ["b"], 0.0), (3, ["a", "c"], 0.0), (None, [], 0.0), (4, ["d"], 3.0)):
        if seed is not None:
            current = current + spec.profile(_frame(120, seed, zones, shift))
        windows.append(current)
    return windows


def _fitted() -> tuple[ProfileSpec, Profile, Profile]:
    """A spec fitted on a reference, the reference's profile and a current window's."""
    reference = _frame(4000, 0)
    spec = ProfileSpec.fit(reference, SCHEMA, parts=["segment_drift"])
    return spec, spec.profile(reference), spec.profile(_frame(2000, 1))


def test_results_are_identical_with_and_without_the_memo_and_only_changed_segments_are_tested():
    reference = _frame(4000, 0)
    spec = ProfileSpec.fit(reference, SCHEMA, parts=["segment_drift"])
    reference_profile = spec.profile(reference)
    memo = SegmentDriftMemo()
    computed = []
    for window in _windows(spec):
        before = memo.computed
        assert segment_drift(reference_profile, window, memo=memo) == segment_drift(reference_profile, window)
        computed.append(memo.computed - before)
    # the first window tests the four zones; then only the zones that got rows
    assert computed == [4, 1, 2, 0, 1]
    assert memo.reused == 0 + 3 + 2 + 4 + 3
    last = segment_drift(reference_profile, _windows(spec)[-1], memo=memo)
    assert last["drift"]["zone"]["d"]["dataset_drift"] is True  # the shifted zone, tested again


def test_a_reused_result_is_a_copy_so_a_reader_cannot_change_the_kept_one():
    _, reference_profile, window = _fitted()
    memo = SegmentDriftMemo()
    first = segment_drift(reference_profile, window, memo=memo)
    first["drift"]["zone"]["a"]["columns"]["distance"]["p_value"] = -1.0
    first["drift"]["zone"]["a"]["drifted_columns"].append("nonsense")
    again = segment_drift(reference_profile, window, memo=memo)
    assert memo.reused == 4
    assert again == segment_drift(reference_profile, window)


def test_other_settings_or_another_reference_forget_the_kept_results():
    spec, reference_profile, window = _fitted()
    memo = SegmentDriftMemo()
    segment_drift(reference_profile, window, memo=memo)
    strict = DriftSettings(threshold=0.2)
    assert segment_drift(reference_profile, window, strict, memo=memo) == segment_drift(
        reference_profile, window, strict
    )
    assert memo.reused == 0 and memo.computed == 4
    other_reference = spec.profile(_frame(4000, 9))
    assert segment_drift(other_reference, window, strict, memo=memo) == segment_drift(
        other_reference, window, strict
    )
    assert memo.reused == 0 and memo.computed == 4


def test_the_same_summaries_or_equal_copies_are_reused_and_a_changed_one_is_not():
    spec, reference_profile, window = _fitted()
    memo = SegmentDriftMemo()
    first = segment_drift(reference_profile, window, memo=memo)
    assert segment_drift(reference_profile, window, memo=memo) == first  # the very same summaries
    copy = Profile.from_dict(window.to_dict(), spec)  # equal summaries, other objects
    assert segment_drift(reference_profile, copy, memo=memo) == first
    assert (memo.reused, memo.computed) == (8, 4)
    changed = Profile.from_dict(window.to_dict(), spec)
    summary = changed.parts["segment_drift"].columns["zone"]["b"]["distance"]
    summary.counts = summary.counts.copy()
    summary.counts[0] += 1  # one cell's count moved, nothing else
    assert segment_drift(reference_profile, changed, memo=memo) == segment_drift(reference_profile, changed)
    assert (memo.reused, memo.computed) == (11, 5)


def test_the_reference_side_is_built_once_per_reference_and_equals_a_fresh_one():
    reference = _frame(4000, 0)
    spec = ProfileSpec.fit(reference, SCHEMA, parts=["segment_drift"])
    reference_profile = spec.profile(reference)
    part = reference_profile.parts["segment_drift"]
    memo = SegmentDriftMemo()
    memo.begin(part, DriftSettings(), 30)
    built = []

    def build() -> Profile:
        built.append(1)
        return part.segment_profile(spec, "zone", "a")

    kept = memo.reference_profile("zone", "a", build)
    assert memo.reference_profile("zone", "a", build) is kept and len(built) == 1
    assert kept.to_dict() == part.segment_profile(spec, "zone", "a").to_dict()
    assert memo.reference_profile("zone", "b", build) is not kept and len(built) == 2
    memo.begin(spec.profile(_frame(4000, 9)).parts["segment_drift"], DriftSettings(), 30)
    assert memo.reference_profile("zone", "a", build) is not kept and len(built) == 3
