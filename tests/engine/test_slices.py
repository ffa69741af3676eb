"""Profiles of a frame's slices, each column read once and each model called once, equal the
profiles of the slices alone: every column summary and every part (outlier forest, label-free
estimate, segments, fairness, per-segment drift), on awkward values too."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelmon.demo.data import taxi_trips
from modelmon.demo.models import (
    TAXI_CATEGORICAL,
    TAXI_ID,
    TAXI_NUMERICAL,
    TAXI_PREDICTION,
    TAXI_TARGET,
)
from modelmon.engine import dle, outliers
from modelmon.engine.profile import ProfileSpec
from modelmon.engine.slices import profile_slices, slice_bounds
from modelmon.schema import Schema

SCHEMA = Schema(
    task="regression",
    numerical=TAXI_NUMERICAL,
    categorical=TAXI_CATEGORICAL,
    prediction=TAXI_PREDICTION,
    target=TAXI_TARGET,
    id=TAXI_ID,
    segments=["payment_type"],
    sensitive=["vendor"],
)


@pytest.fixture(scope="module")
def spec() -> ProfileSpec:
    return ProfileSpec.fit(taxi_trips(3000, seed=1), SCHEMA)


def _awkward(rows: int) -> pd.DataFrame:
    """Demo trips with missing values, text and infinities in numerical columns, new categories and
    half the targets missing, as events arrive."""
    frame = taxi_trips(rows, seed=2).astype({"fare_amount": object, "PULocationID": object})
    rng = np.random.default_rng(3)
    frame.loc[rng.random(rows) < 0.05, "trip_distance"] = np.nan
    frame.loc[rng.random(rows) < 0.02, "trip_distance"] = np.inf
    frame.loc[rng.random(rows) < 0.03, "fare_amount"] = "n/a"
    frame.loc[rng.random(rows) < 0.03, "PULocationID"] = "zone-new"
    frame.loc[rng.random(rows) < 0.02, "payment_type"] = None
    frame.loc[rng.random(rows) < 0.5, TAXI_TARGET] = np.nan
    return frame


@pytest.mark.parametrize(
    "bounds",
    [[0, 1200], [0, 200, 400, 600, 800, 1000, 1200], [0, 1, 1, 500, 1199, 1200], [0, 0, 1200]],
    ids=["one", "equal", "uneven", "empty-first"],
)
def test_each_slice_profile_equals_the_profile_of_the_slice_alone(spec, bounds):
    frame = _awkward(1200)
    sliced = profile_slices(spec, frame, bounds)
    assert len(sliced) == len(bounds) - 1
    every = {"outliers", "dle", "performance", "segments", "segment_drift", "fairness"}
    assert every <= set(sliced[-1].parts)
    for profile, start, end in zip(sliced, bounds[:-1], bounds[1:], strict=True):
        alone = spec.profile(frame.iloc[start:end])
        assert profile.to_dict() == alone.to_dict()
        assert set(profile.parts) == set(alone.parts)


def test_only_the_named_parts_are_built_and_absent_columns_are_recorded(spec):
    frame = _awkward(600).drop(columns=["vendor"])
    sliced = profile_slices(spec, frame, [0, 250, 600], parts=("performance", "segments"))
    for profile, (start, end) in zip(sliced, [(0, 250), (250, 600)], strict=True):
        alone = spec.profile(frame.iloc[start:end], parts=("performance", "segments"))
        assert profile == alone
        assert set(profile.parts) == {"performance", "segments"}
        assert "vendor" in profile.absent_columns


def test_models_are_called_once_for_all_slices(spec, monkeypatch):
    frame = _awkward(1000)
    calls = {"forest": 0, "losses": 0}
    forest_scores, design = outliers.forest_scores, dle._design

    def count(name, function):
        def counted(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return counted

    monkeypatch.setattr(outliers, "forest_scores", count("forest", forest_scores))
    monkeypatch.setattr(dle, "_design", count("losses", design))
    profile_slices(spec, frame, list(range(0, 1001, 100)))
    assert calls == {"forest": 1, "losses": 1}


def test_each_column_is_read_once_for_the_profiles_and_the_grouped_parts(spec, monkeypatch):
    """Per-segment drift summaries and the segments' and groups' slots come from the readers of the
    rows' profiles; the equality of what they build is checked above."""
    from modelmon.engine import buckets, column_reader

    frame = _awkward(300)
    reads: list[str] = []
    for name in ("parsed_numbers", "category_labels"):
        function = getattr(column_reader, name)
        monkeypatch.setattr(
            column_reader, name, lambda series, f=function: reads.append(series.name) or f(series)
        )
    slots = buckets.label_slots
    monkeypatch.setattr(
        buckets, "label_slots", lambda *args, **kwargs: reads.append("slots") or slots(*args, **kwargs)
    )
    profiled = profile_slices(spec, frame, [0, 100, 300])
    assert {"segment_drift", "segments", "fairness"} <= set(profiled[0].parts)
    assert sorted(reads) == sorted(spec.columns)


def test_bounds_must_cover_the_frame(spec):
    with pytest.raises(ValueError, match="bounds must rise from 0 to the frame's 10 rows"):
        profile_slices(spec, _awkward(10), [0, 5])
    with pytest.raises(ValueError, match="bounds must rise"):
        profile_slices(spec, _awkward(10), [0, 6, 5, 10])


def test_slice_bounds_group_rows_by_key_in_arrival_order():
    order, keys, bounds = slice_bounds(np.array([3, 1, 3, 2, 1]))
    assert order.tolist() == [1, 4, 3, 0, 2]
    assert keys.tolist() == [1, 2, 3] and bounds.tolist() == [0, 2, 3, 5]
