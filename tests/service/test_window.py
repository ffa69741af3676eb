"""A window by seconds stays bounded whatever the timestamps its rows carry."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from modelmon.config import Window
from modelmon.engine.profile import ProfileSpec
from modelmon.schema import Schema
from modelmon.service.window import SlidingWindow

SCHEMA = Schema(numerical=["x"], categorical=["c"], prediction="y", target="t", id="id")
NOW = 1_800_000_000.0


def _spec() -> ProfileSpec:
    rng = np.random.default_rng(0)
    reference = pd.DataFrame(
        {"x": rng.normal(size=500), "c": rng.choice(list("abc"), 500), "y": rng.normal(size=500)}
    )
    return ProfileSpec.fit(reference.assign(t=reference["y"]), SCHEMA)


def _rows(count: int, start: int = 0) -> pd.DataFrame:
    ids = [f"e{i}" for i in range(start, start + count)]
    return pd.DataFrame({"x": 0.5, "c": "a", "y": 1.0, "t": None, "id": ids})


def test_rows_stamped_ahead_go_to_the_newest_bucket_so_the_buckets_stay_bounded():
    window = SlidingWindow(_spec(), Window(seconds=3600), buckets=50)
    ahead = NOW + 100.0 * np.arange(5000)  # up to 5.8 days ahead: 6,944 buckets if placed by stamp
    window.add(_rows(5000), now=NOW, timestamps=ahead)
    assert window.bucket_count == 1
    assert window.rows == 5000 and window.current().rows == 5000
    # they leave with the newest bucket of their receipt, not days later
    window.add(pd.DataFrame(), now=NOW + 3600 + 72)
    assert window.rows == 0 and window.bucket_count == 0


def test_rows_older_than_the_window_are_not_profiled():
    window = SlidingWindow(_spec(), Window(seconds=3600), buckets=50)
    stamps = np.concatenate([NOW - 3600 * np.arange(2, 1002), NOW - 3500 + 3 * np.arange(1000)])
    window.add(_rows(2000), now=NOW, timestamps=stamps)
    assert window.rows == 1000
    assert window.bucket_count <= 50
    joined, missed = window.add_targets({"e0": 1.0, "e1999": 2.0})
    assert [row["id"] for row in joined] == ["e1999"] and missed == ["e0"]


def test_whatever_the_timestamps_a_window_holds_at_most_its_buckets():
    window = SlidingWindow(_spec(), Window(seconds=600), buckets=20)
    rng = np.random.default_rng(1)
    for step in range(30):
        now = NOW + 30.0 * step
        stamps = now + rng.uniform(-1e7, 1e7, size=400)
        window.add(_rows(400, start=400 * step), now=now, timestamps=stamps)
        assert window.bucket_count <= 20


def test_a_quiet_window_by_seconds_empties_in_time():
    window = SlidingWindow(_spec(), Window(seconds=600), buckets=10)
    window.add(_rows(100), now=NOW, timestamps=np.full(100, NOW))
    window.add(pd.DataFrame(), now=NOW + 300)
    assert window.rows == 100
    window.add(pd.DataFrame(), now=NOW + 660)
    assert window.rows == 0


def test_records_waiting_for_a_target_are_capped_and_the_oldest_forgotten_are_counted():
    window = SlidingWindow(_spec(), Window(seconds=86400), buckets=50, max_awaiting_target=1000)
    for step in range(20):  # 10,000 unlabelled events over 20 minutes of a one-day window
        now = NOW + 60.0 * step
        window.add(_rows(500, start=500 * step), now=now, timestamps=np.full(500, now))
        assert window.awaiting_target <= 1000
    assert window.rows == 10_000  # every event stays in the window's profiles
    assert window.awaiting_target == 1000 and window.forgotten == 9000
    joined, missed = window.add_targets({"e0": 1.0, "e8999": 1.0, "e9000": 2.0, "e9999": 3.0})
    assert sorted(row["id"] for row in joined) == ["e9000", "e9999"]
    assert sorted(missed) == ["e0", "e8999"]
    assert window.awaiting_target == 998 and window.labelled_rows == 2


def test_without_a_target_column_no_record_waits():
    spec = ProfileSpec.fit(
        pd.DataFrame({"x": [0.1, 0.2], "c": ["a", "b"], "y": [1.0, 2.0]}),
        Schema(numerical=["x"], categorical=["c"], prediction="y", id="id"),
    )
    window = SlidingWindow(spec, Window(seconds=3600))
    window.add(_rows(100).drop(columns=["t"]), now=NOW, timestamps=np.full(100, NOW))
    assert window.rows == 100 and window.awaiting_target == 0


def _taxi_spec() -> ProfileSpec:
    from modelmon.demo.data import taxi_trips
    from modelmon.demo.models import TAXI_CATEGORICAL, TAXI_ID, TAXI_NUMERICAL, TAXI_PREDICTION, TAXI_TARGET

    schema = Schema(
        task="regression",
        numerical=TAXI_NUMERICAL,
        categorical=TAXI_CATEGORICAL,
        prediction=TAXI_PREDICTION,
        target=TAXI_TARGET,
        id=TAXI_ID,
        segments=["payment_type"],
    )
    return ProfileSpec.fit(taxi_trips(2000, seed=1), schema)


def _state(window: SlidingWindow) -> dict[int, tuple]:
    """Everything each bucket holds, as plain data."""
    state = {}
    for key, bucket in window._ring.items():
        sample = pd.concat(bucket.sample, ignore_index=True) if bucket.sample else None
        scores = np.concatenate(bucket.sample_scores).tolist() if bucket.sample_scores else []
        state[key] = (
            bucket.rows,
            bucket.events.to_dict(),
            bucket.labelled.to_dict(),
            dict(bucket.label_rows),
            None if sample is None else sample.to_json(orient="split", double_precision=15),
            scores,
        )
    return state


def test_rows_of_many_buckets_profiled_at_once_equal_them_profiled_bucket_by_bucket():
    """The window profiles the new rows of all buckets at once (each column read once, the outlier
    forest and the loss models called once); its buckets hold what profiling each alone gave."""
    from modelmon.demo.data import taxi_trips

    spec = _taxi_spec()
    rows = taxi_trips(1500, seed=5).drop(columns=["pickup_time"])
    rows.loc[rows.index % 3 == 0, "duration_actual"] = np.nan  # a third waits for a late target
    at_once = SlidingWindow(spec, Window(rows=1000), buckets=10)
    one_by_one = SlidingWindow(spec, Window(rows=1000), buckets=10)
    at_once.add(rows.iloc[:250], now=NOW)
    one_by_one.add(rows.iloc[:250], now=NOW)
    at_once.add(rows.iloc[250:], now=NOW)  # fills the rest of a bucket and eleven more, four leave
    cuts = [250, *range(300, 1501, 100)]  # one bucket's rows per call
    for start, end in itertools.pairwise(cuts):
        one_by_one.add(rows.iloc[start:end], now=NOW)
    assert at_once.bucket_count == one_by_one.bucket_count == 10
    assert _state(at_once) == _state(one_by_one)
    assert at_once.current() == one_by_one.current()
    assert at_once.awaiting_target == one_by_one.awaiting_target > 0


def test_a_window_by_seconds_groups_rows_by_bucket_whatever_their_order():
    from modelmon.demo.data import taxi_trips

    spec = _taxi_spec()
    rows = taxi_trips(600, seed=6).drop(columns=["pickup_time"])
    stamps = NOW - np.random.default_rng(7).uniform(0, 3000, size=600)
    at_once = SlidingWindow(spec, Window(seconds=3600), buckets=6)
    at_once.add(rows, now=NOW, timestamps=stamps)
    by_bucket = SlidingWindow(spec, Window(seconds=3600), buckets=6)
    keys = np.floor(stamps / 600)
    for key in np.unique(keys):
        by_bucket.add(rows[keys == key], now=NOW, timestamps=stamps[keys == key])
    assert _state(at_once) == _state(by_bucket)
    assert at_once.current() == by_bucket.current()


def _awkward_trips(rows: int, seed: int, labelled_share: float) -> pd.DataFrame:
    """Demo trips as events arrive: missing values, text and infinities, new categories, and a share
    of the targets known."""
    from modelmon.demo.data import taxi_trips

    frame = taxi_trips(rows, seed=seed).drop(columns=["pickup_time"])
    frame = frame.astype({"fare_amount": object, "PULocationID": object})
    rng = np.random.default_rng(seed)
    frame.loc[rng.random(rows) < 0.05, "trip_distance"] = np.nan
    frame.loc[rng.random(rows) < 0.02, "trip_distance"] = np.inf
    frame.loc[rng.random(rows) < 0.03, "fare_amount"] = "n/a"
    frame.loc[rng.random(rows) < 0.03, "PULocationID"] = "zone-new"
    frame.loc[rng.random(rows) < 0.05, "payment_type"] = None
    frame.loc[rng.random(rows) >= labelled_share, "duration_actual"] = np.nan
    return frame


@pytest.mark.parametrize("labelled_share", [1.0, 0.6, 0.0])  # all, some and none labelled
@pytest.mark.parametrize("seed", [11, 12])
def test_each_bucket_holds_the_profiles_of_its_events_and_of_its_labelled_rows_alone(seed, labelled_share):
    """The window reads its new rows' columns once for both profiles; each bucket's events profile
    is still that of its rows without the target, its labelled one that of its labelled rows."""
    from modelmon.service.window import LABELLED_PARTS

    spec = _taxi_spec()
    rows = _awkward_trips(730, seed, labelled_share)
    window = SlidingWindow(spec, Window(rows=1000), buckets=10)
    window.add(rows.iloc[:50], now=NOW)  # a bucket's first rows, then its rest and six more at once
    window.add(rows.iloc[50:], now=NOW)
    for number, (key, bucket) in enumerate(window._ring.items()):
        assert key == number
        mine = rows.iloc[number * 100 : (number + 1) * 100]
        pieces = [mine.iloc[:50], mine.iloc[50:]] if number == 0 else [mine]
        events, labelled = spec.empty(), spec.empty()
        for piece in pieces:
            events = events + spec.profile(piece.drop(columns=["duration_actual"]))
            known = piece[piece["duration_actual"].notna()]
            if len(known):
                labelled = labelled + spec.profile(known, parts=LABELLED_PARTS)
        assert bucket.events.to_dict() == events.to_dict()
        assert bucket.labelled.to_dict() == labelled.to_dict()
        # what an unlabelled row keeps for its late target, as a frame's records give it
        kept = ["duration", "payment_type", "ride_id"]
        waiting = mine.loc[mine["duration_actual"].isna(), kept].to_dict("records")
        assert bucket.label_rows == {record["ride_id"]: record for record in waiting}
