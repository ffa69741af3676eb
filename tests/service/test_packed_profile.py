"""A packed bucket profile unpacks to the very profile it was, in a fraction of the memory."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelmon.config import Window
from modelmon.engine.columns import NumericalColumn
from modelmon.engine.profile import ProfileSpec
from modelmon.schema import Schema
from modelmon.service.packed_profile import PackedProfile
from modelmon.service.window import SlidingWindow
from modelmon.service.window_total import STRIDE

SCHEMA = Schema(numerical=["x", "z"], categorical=["c"], prediction="y", target="t", segments=["c"])


def _frame(rng: np.random.Generator, rows: int) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=rows).round(3),  # thousands of distinct values: thousands of cells
            "z": rng.exponential(size=rows),
            "c": rng.choice(list("abcd"), rows),
        }
    )
    frame["y"] = 2 * frame["x"]
    frame["t"] = frame["y"] + rng.normal(size=rows)
    return frame


def test_a_packed_profile_unpacks_to_the_same_profile_and_holds_its_filled_cells_only():
    rng = np.random.default_rng(0)
    spec = ProfileSpec.fit(_frame(rng, 5000), SCHEMA)
    rows = _frame(rng, 200)
    rows.loc[:9, "x"] = np.nan  # missing values and a type error are totals of their own
    rows["z"] = rows["z"].astype(object)
    rows.loc[10, "z"] = "n/a"
    profile = spec.profile(rows)
    packed = PackedProfile.of(profile)
    unpacked = packed.unpack()
    assert list(unpacked.columns) == list(profile.columns)
    assert unpacked.to_dict() == profile.to_dict()
    for name, column in profile.columns.items():
        if isinstance(column, NumericalColumn):
            again = unpacked.columns[name]
            assert isinstance(again, NumericalColumn)
            np.testing.assert_array_equal(again.cell_counts, column.cell_counts)
            np.testing.assert_array_equal(again.cell_sums, column.cell_sums)
            assert again.cell_counts.dtype == column.cell_counts.dtype
    dense = sum(
        column.cell_counts.nbytes + column.cell_sums.nbytes
        for column in profile.columns.values()
        if isinstance(column, NumericalColumn)
    )
    assert packed.nbytes * 5 < dense


def test_a_window_keeps_its_older_buckets_packed_and_a_sum_for_every_stride_of_them():
    rng = np.random.default_rng(1)
    spec = ProfileSpec.fit(_frame(rng, 3000), SCHEMA)
    window = SlidingWindow(spec, Window(rows=4000), buckets=20)
    for _ in range(25):  # past one turn of the window, so its older buckets carry sums
        window.add(_frame(rng, 200), now=0.0)
        window.current()
    buckets = list(window._ring.values())
    assert all(isinstance(bucket.stored_events, PackedProfile) for bucket in buckets[:-1])
    assert all(isinstance(bucket.stored_labelled, PackedProfile) for bucket in buckets[:-1])
    assert not isinstance(buckets[-1].stored_events, PackedProfile)  # the one that fills
    total = window._events_total
    assert len(total._older) > STRIDE
    assert len(total._sums) <= -(-len(total._older) // STRIDE)
