"""The window's running totals equal the sum of its buckets, as each recompute summed them before."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelmon.config import Window
from modelmon.engine.profile import Profile, ProfileSpec
from modelmon.schema import Schema
from modelmon.service.window import SlidingWindow
from modelmon.service.window_total import RunningTotal

#: relative difference allowed between float sums added in another order
SUMMATION_ORDER = 1e-9


def _same(left: Any, right: Any, where: str = "") -> None:
    """Equal plain data, floats up to summation order."""
    if isinstance(left, dict):
        assert isinstance(right, dict) and left.keys() == right.keys(), where
        for key in left:
            _same(left[key], right[key], f"{where}.{key}")
    elif isinstance(left, list):
        assert isinstance(right, list) and len(left) == len(right), where
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            _same(a, b, f"{where}[{i}]")
    elif isinstance(left, float) and not isinstance(right, bool):
        assert math.isclose(left, right, rel_tol=SUMMATION_ORDER, abs_tol=1e-9) or (
            math.isnan(left) and math.isnan(right)
        ), f"{where}: {left} != {right}"
    else:
        assert left == right, f"{where}: {left!r} != {right!r}"


def _reference(rows: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=rows).round(3),
            "z": rng.exponential(size=rows),
            "c": rng.choice(list("abcd"), rows),
        }
    )
    frame["y"] = 2 * frame["x"] + rng.normal(size=rows) * 0.1
    frame["t"] = frame["y"] + rng.normal(size=rows) * 0.1
    return frame


SCHEMA = Schema(numerical=["x", "z"], categorical=["c"], prediction="y", target="t", id="id", segments=["c"])


def _rows(rng: np.random.Generator, count: int, start: int, labelled: float) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "x": rng.normal(0.3, 1.2, count),
            "z": rng.exponential(size=count),
            "c": rng.choice(list("abcde"), count),
            "id": [f"e{start + i}" for i in range(count)],
        }
    )
    frame["y"] = 2 * frame["x"]
    frame["t"] = np.where(rng.random(count) < labelled, frame["y"] + rng.normal(size=count), np.nan)
    return frame


def _summed(window: SlidingWindow) -> tuple[Profile, Profile]:
    buckets = list(window._ring.values())
    return (
        Profile.total(window.spec, [bucket.events for bucket in buckets]),
        Profile.total(window.spec, [bucket.labelled for bucket in buckets]),
    )


@pytest.mark.parametrize("every", [1, 4, 13], ids=["read every step", "every 4th", "every 13th"])
@pytest.mark.parametrize("window", [Window(rows=2000), Window(seconds=100)])
def test_the_window_total_is_the_sum_of_its_buckets_through_fills_drops_and_late_targets(window, every):
    spec = ProfileSpec.fit(_reference(), SCHEMA)
    sliding = SlidingWindow(spec, window, buckets=10)
    rng = np.random.default_rng(1)
    sent = 0
    for step in range(40):  # each step adds rows to one or two buckets, then late targets to many
        count = int(rng.integers(1, 500))
        frame = _rows(rng, count, sent, labelled=0.5)
        now = 1000.0 + 17.0 * step
        stamps = None
        if window.seconds is not None:  # mostly in order, some late by up to 30 s
            stamps = now - rng.choice([0.0, 0.0, 0.0, 30.0], count) * rng.random(count)
        sliding.add(frame, now=now, timestamps=stamps)
        sent += count
        late = {f"e{i}": float(i) for i in rng.integers(0, sent, 20)}
        sliding.add_targets(late)
        if step % every == every - 1:
            events, labelled = _summed(sliding)
            current = sliding.current()
            _same(current.to_dict()["parts"]["segments"], labelled.to_dict()["parts"]["segments"])
            _same(
                {name: column.to_dict() for name, column in current.columns.items() if name != "t"},
                {name: column.to_dict() for name, column in events.columns.items() if name != "t"},
            )
            _same(current.columns["t"].to_dict(), labelled.columns["t"].to_dict())
            _same(current.parts["outliers"].to_dict(), events.parts["outliers"].to_dict())
            _same(current.parts["segment_drift"].to_dict(), events.parts["segment_drift"].to_dict())
            _same(current.parts["performance"].to_dict(), labelled.parts["performance"].to_dict())
            assert current.rows == events.rows == sliding.rows


def test_a_running_total_starts_over_when_a_bucket_opens_between_others():
    spec = ProfileSpec.fit(_reference(), SCHEMA, parts=())
    buckets: dict[int, Profile] = {}
    total = RunningTotal(spec, lambda key: buckets[key])
    rng = np.random.default_rng(2)
    for key in (1, 2, 5, 3, 4):
        buckets[key] = spec.profile(_rows(rng, 10, 10 * key, 0.0))
        total.opened(key)
        total.grew(key, buckets[key])
        assert total.profile().rows == 10 * len(buckets)
    for key in (1, 3, 2):  # 3 leaves before 2: out of order
        total.dropped(key)
        del buckets[key]
        _same(total.profile().to_dict(), Profile.total(spec, list(buckets.values())).to_dict())


def test_the_kept_rows_are_scored_once_as_the_outliers_section_would_score_them():
    spec = ProfileSpec.fit(_reference(), SCHEMA)
    sliding = SlidingWindow(spec, Window(rows=1000), buckets=5, sample_rows=30)
    rng = np.random.default_rng(3)
    for start in range(0, 1500, 250):
        frame = _rows(rng, 250, start, labelled=0.0)
        if start == 500:
            frame = frame.drop(columns=["z"])  # an absent feature is imputed, as when scored whole
        sliding.add(frame, now=0.0)
    sample, scores = sliding.sample(), sliding.sample_scores()
    assert sample is not None and scores is not None and len(scores) == len(sample) == 150
    np.testing.assert_allclose(scores, spec.state["outliers"].scores(sample), rtol=1e-12)


@pytest.mark.parametrize("most_scored", [5_000, 40])
def test_the_kept_rows_take_the_scores_the_outlier_counts_gave_them(monkeypatch, most_scored):
    """A bucket's kept rows take the scores its outlier counts gave them; a bucket whose counts
    scored a spaced subset (beyond ``MAX_SCORED_ROWS``) has its kept rows scored as before. The
    scores equal the rows scored alone, and no bucket's profile keeps them."""
    from modelmon.engine import outliers as outliers_module

    monkeypatch.setattr(outliers_module, "MAX_SCORED_ROWS", most_scored)
    spec = ProfileSpec.fit(_reference(), SCHEMA)
    state = spec.state["outliers"]
    calls: list[int] = []
    scores_of = type(state).scores

    def counted(self: Any, frame: pd.DataFrame, numbers: Any = None) -> np.ndarray:
        calls.append(len(frame))
        return scores_of(self, frame, numbers)

    monkeypatch.setattr(type(state), "scores", counted)
    sliding = SlidingWindow(spec, Window(seconds=100), buckets=5, sample_rows=30)
    rng = np.random.default_rng(6)
    fallbacks = 0
    for step, count in enumerate([25, 70, 3, 120, 50]):
        now = 1000.0 + 20.0 * step
        stamps = now - rng.choice([0.0, 25.0], count) * rng.random(count)  # some in the bucket before
        calls.clear()
        sliding.add(_rows(rng, count, 100 * step, 0.5), now=now, timestamps=stamps)
        # the counts' one call, and one for kept rows whose counts scored a spaced subset
        assert len(calls) == 1 or (most_scored < count and len(calls) == 2)
        fallbacks += len(calls) - 1
        for bucket in sliding._ring.values():
            for added in bucket.events_added:
                assert getattr(added.parts.get("outliers"), "row_scores", None) is None
    assert (fallbacks > 0) == (most_scored < 5_000)  # both ways taken
    sample, scores = sliding.sample(), sliding.sample_scores()
    assert sample is not None and scores is not None and len(scores) == len(sample) > 30
    np.testing.assert_array_equal(scores, scores_of(state, sample))


@pytest.mark.parametrize("window", [Window(rows=1000), Window(seconds=100)])
def test_the_kept_rows_are_every_buckets_rows_after_each_change(window):
    spec = ProfileSpec.fit(_reference(), SCHEMA, parts=("outliers",))
    sliding = SlidingWindow(spec, window, buckets=5, sample_rows=30)
    rng = np.random.default_rng(4)
    sent = 0
    for step in range(24):
        count = int(rng.integers(0, 120))
        now = 1000.0 + 9.0 * step
        stamps = now - rng.choice([0.0, 0.0, 60.0], count) * rng.random(count)  # some late, some too old
        sliding.add(_rows(rng, count, sent, 0.0), now=now, timestamps=stamps if window.seconds else None)
        sent += count
        frames = [frame for bucket in sliding._ring.values() for frame in bucket.sample]
        sample, scores = sliding.sample(), sliding.sample_scores()
        if not frames:
            assert sample is None
            continue
        assert sample is not None and scores is not None
        pd.testing.assert_frame_equal(sample, pd.concat(frames, ignore_index=True))
        assert sliding.sample() is sample  # nothing changed: the same frame
        np.testing.assert_array_equal(scores, spec.state["outliers"].scores(sample))


def test_a_bucket_holds_the_sum_of_what_was_added_to_it_however_often_it_is_read():
    spec = ProfileSpec.fit(_reference(), SCHEMA)
    sliding = SlidingWindow(spec, Window(rows=1000), buckets=5)  # buckets of 200 rows
    rng = np.random.default_rng(5)
    pieces: dict[int, list[pd.DataFrame]] = {}
    sent = 0
    for step in range(60):  # up to 20 small additions to a bucket, past the ones kept aside
        count = int(rng.integers(1, 25))
        frame = _rows(rng, count, sent, labelled=0.5)
        for key in range(sent // 200, (sent + count - 1) // 200 + 1):
            start, end = max(sent, 200 * key), min(sent + count, 200 * (key + 1))
            pieces.setdefault(key, []).append(frame.iloc[start - sent : end - sent])
        sliding.add(frame, now=0.0)
        sent += count
        assert sliding.labelled_rows == sum(
            int(piece["t"].notna().sum()) for key in sliding._ring for piece in pieces[key]
        )
        if step % 7 == 6:
            for key, bucket in sliding._ring.items():
                rows = pd.concat(pieces[key])
                _same(bucket.events.to_dict(), spec.profile(rows.drop(columns=["t"])).to_dict())
                known = rows[rows["t"].notna()]
                expected = spec.profile(known, parts=("performance", "segments", "fairness"))
                _same(bucket.labelled.to_dict(), expected.to_dict())


def test_buckets_leaving_between_two_reads_take_one_sum_of_the_older_part(monkeypatch):
    """A large batch makes many buckets leave before the next read: the older part's total is taken
    once at that read (it was taken at every leaving bucket: 9 sums for 9 buckets here)."""
    spec = ProfileSpec.fit(_reference(), SCHEMA)
    sliding = SlidingWindow(spec, Window(rows=2000), buckets=20)  # buckets of 100 rows
    rng = np.random.default_rng(3)
    sliding.add(_rows(rng, 2000, 0, labelled=1.0), now=1000.0)
    sliding.current()
    sliding.add(_rows(rng, 300, 2000, labelled=1.0), now=1001.0)  # the newer buckets become the older
    sliding.current()
    calls: list[RunningTotal] = []
    older_pieces = RunningTotal._older_pieces

    def counted(total: RunningTotal) -> list[Profile]:
        calls.append(total)
        return older_pieces(total)

    monkeypatch.setattr(RunningTotal, "_older_pieces", counted)
    sliding.add(_rows(rng, 900, 2300, labelled=1.0), now=1002.0)  # 9 older buckets leave
    current = sliding.current()
    assert len(calls) == len(set(map(id, calls))) == 2  # the events' and the labelled rows' totals
    events, labelled = _summed(sliding)
    _same(
        {name: column.to_dict() for name, column in current.columns.items() if name != "t"},
        {name: column.to_dict() for name, column in events.columns.items() if name != "t"},
    )
    _same(current.parts["segment_drift"].to_dict(), events.parts["segment_drift"].to_dict())
    _same(current.parts["performance"].to_dict(), labelled.parts["performance"].to_dict())
    assert current.rows == events.rows == sliding.rows == 2000
