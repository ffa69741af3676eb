"""Bounded row keepers fed in chunks: the priority sample and the time-ordered stride stream."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelmon.engine.streaming import PrioritySample, StrideSample


def _feed(keeper, rows: int, chunk: int) -> None:
    for start in range(0, rows, chunk):
        keeper.update(pd.DataFrame({"x": np.arange(start, min(start + chunk, rows)), "y": "v"}))


@pytest.mark.parametrize(("chunk", "rows"), [(1, 300), (7, 2000), (100, 2000), (5000, 2000)])
def test_reservoir_is_bounded_distinct_and_ordered(chunk, rows):
    sample = PrioritySample(50, seed=1, columns=["x"])
    _feed(sample, rows, chunk)
    frame = sample.frame()
    assert list(frame.columns) == ["x"]
    assert len(frame) == 50 and frame["x"].is_unique and frame["x"].is_monotonic_increasing
    assert sample.seen == rows


def test_reservoir_keeps_everything_below_its_size_and_is_seeded():
    small = PrioritySample(100, seed=0)
    _feed(small, 30, 7)
    assert small.frame()["x"].tolist() == list(range(30))
    runs = []
    for _ in range(2):
        sample = PrioritySample(20, seed=5)
        _feed(sample, 500, 33)
        runs.append(sample.frame()["x"].tolist())
    assert runs[0] == runs[1]


def test_reservoir_is_uniform():
    hits = np.zeros(40)
    for seed in range(300):
        sample = PrioritySample(5, seed=seed)
        _feed(sample, 40, 9)
        hits[sample.frame()["x"].to_numpy()] += 1
    # each row is kept with probability 5/40: 37.5 expected hits, sd about 5.7
    assert hits.min() > 15 and hits.max() < 60


def test_stream_keeps_a_uniform_stride_in_time_order():
    stream = StrideSample(max_rows=100, columns=["t", "x"], time_column="t")
    for start in range(1000, 0, -250):  # chunks arrive newest first
        stream.update(pd.DataFrame({"t": np.arange(start - 250, start), "x": 1.0, "other": 0}))
    frame = stream.frame()
    assert 50 <= len(frame) <= 100 and list(frame.columns) == ["t", "x"]
    assert frame["t"].is_monotonic_increasing
    assert stream.stride == 16
    assert len(frame) == len(range(0, 1000, stream.stride))


def test_stream_below_capacity_keeps_every_row():
    stream = StrideSample(max_rows=100)
    _feed(stream, 60, 25)
    assert stream.frame()["x"].tolist() == list(range(60)) and stream.stride == 1


def test_invalid_sizes_are_rejected():
    with pytest.raises(ValueError, match="size"):
        PrioritySample(-1)
    with pytest.raises(ValueError, match="max_rows"):
        StrideSample(0)


@pytest.mark.parametrize(("rows", "size", "chunk"), [(5_000, 300, 97), (5_000, 5_000, 611), (200, 300, 7)])
def test_reservoir_told_the_total_keeps_the_same_rows_copying_only_those(rows, size, chunk):
    frame = pd.DataFrame({"x": np.arange(rows), "y": np.arange(rows) * 2.0})
    candidates = PrioritySample(size, seed=4)
    planned = PrioritySample(size, seed=4, total_rows=rows)
    copied = 0
    for start in range(0, rows, chunk):
        candidates.update(frame.iloc[start : start + chunk])
        planned.update(frame.iloc[start : start + chunk])
        held = planned._pending_rows + (0 if planned._rows is None else len(planned._rows))
        copied = max(copied, held)
    assert planned.frame().equals(candidates.frame())
    assert copied == min(size, rows)  # never more rows held than it keeps
    # partitions told the same total add up to the same sample
    left = PrioritySample(size, seed=4, total_rows=rows)
    right = PrioritySample(size, seed=4, total_rows=rows)
    right.update(frame.iloc[rows // 3 :], first_row=rows // 3)
    left.update(frame.iloc[: rows // 3])
    assert (left + right).frame().equals(candidates.frame())


def test_reservoir_told_too_few_rows_still_keeps_the_smallest_priorities():
    frame = pd.DataFrame({"x": np.arange(1_000)})
    candidates, planned = PrioritySample(50, seed=2), PrioritySample(50, seed=2, total_rows=400)
    for start in range(0, 1_000, 128):
        candidates.update(frame.iloc[start : start + 128])
        planned.update(frame.iloc[start : start + 128])
    assert planned.frame().equals(candidates.frame())


def test_reservoir_told_the_total_holds_a_bounded_number_of_pieces_however_many_chunks():
    frame = pd.DataFrame({f"c{i}": np.arange(3_000, dtype=float) for i in range(20)})
    planned, candidates = PrioritySample(100, seed=1, total_rows=3_000), PrioritySample(100, seed=1)
    pieces = 0
    for start in range(0, 3_000, 7):  # 429 chunks
        planned.update(frame.iloc[start : start + 7])
        candidates.update(frame.iloc[start : start + 7])
        pieces = max(pieces, len(planned._pending))
    assert pieces <= 64
    assert planned.frame().equals(candidates.frame())
