"""Both sides streamed under a memory budget: the reference fit from chunks, the position-keyed keepers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelmon.config import DriftSettings
from modelmon.engine.build import build_report, fit_reference
from modelmon.engine.drift import data_drift
from modelmon.engine.fitting import ReferenceSketch
from modelmon.engine.profile import ProfileSpec
from modelmon.engine.sides import ReferenceSide, fits_in_memory, reference_bytes
from modelmon.engine.streaming import PrioritySample, StrideSample
from modelmon.reading.files import read_ahead, read_frames
from modelmon.schema import Schema

SCHEMA = Schema(numerical=["fare", "passengers", "tip"], categorical=["zone"], prediction="duration")


def _frame(rows: int, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "fare": rng.normal(20 + shift, 4, rows),
            "passengers": rng.integers(1, 6, rows).astype(float),
            "tip": rng.lognormal(0.5 + shift / 4, 0.7, rows),
            "zone": rng.choice(["a", "b", "c", "d", "e"], rows, p=[0.4, 0.3, 0.15, 0.1, 0.05]),
            "duration": rng.normal(15, 3, rows),
        }
    )
    frame.loc[frame.index[::13], "fare"] = np.nan
    return frame


def _chunks(frame: pd.DataFrame, rows: int):
    return lambda: (frame.iloc[start : start + rows] for start in range(0, len(frame), rows))


def test_a_reference_that_fits_in_the_sample_gets_the_in_memory_spec_and_profile():
    frame = _frame(4_000)
    spec, profile = ProfileSpec.fit_profile(frame, SCHEMA, parts=())
    side = ReferenceSide.fit_chunks(_chunks(frame, 333), SCHEMA, sections=("drift", "quality"))
    assert side.spec.fingerprint == spec.fingerprint and side.spec.exact == spec.exact
    assert side.spec.categories == spec.categories
    for name, column in profile.columns.items():
        streamed = side.profile.columns[name]
        if hasattr(column, "cell_counts"):
            assert streamed.cell_counts.tolist() == column.cell_counts.tolist(), name
            assert streamed.sum == pytest.approx(column.sum, rel=1e-12)
        else:
            assert streamed.counts.tolist() == column.counts.tolist(), name


def _same_profiles(left, right):
    assert left.spec.fingerprint == right.spec.fingerprint and left.spec.exact == right.spec.exact
    assert left.rows == right.rows and left.absent_columns == right.absent_columns
    for name, column in left.columns.items():
        other = right.columns[name]
        if hasattr(column, "cell_counts"):
            assert other.cell_counts.tolist() == column.cell_counts.tolist(), name
            assert other.cell_sums == pytest.approx(column.cell_sums, rel=1e-12), name
            assert (other.count, other.missing, other.min, other.max) == (
                column.count,
                column.missing,
                column.min,
                column.max,
            )
        else:
            assert other.counts.tolist() == column.counts.tolist(), name


@pytest.mark.parametrize("parts", [(), None], ids=["columns", "every part"])
def test_fitting_a_reference_chunk_by_chunk_in_memory_equals_fitting_it_joined(parts):
    frame = _frame(30_000)  # more rows than the sketch samples: a sketch would give other edges
    frame["segment"] = np.where(frame["fare"] > 20, "high", "low")
    schema = Schema(
        numerical=["fare", "passengers", "tip"],
        categorical=["zone"],
        prediction="duration",
        segments=["segment"],
    )
    joined = ProfileSpec.fit_profile(frame, schema, parts=parts)
    pieces = [frame.iloc[start : start + 7_001] for start in range(0, len(frame), 7_001)]
    chunked = ProfileSpec.fit_profile(pieces, schema, parts=parts)
    _same_profiles(joined[1], chunked[1])
    assert joined[0].categories == chunked[0].categories and set(joined[0].state) == set(chunked[0].state)
    for name, part in joined[1].parts.items():
        assert part.to_dict() == chunked[1].parts[name].to_dict(), name


def test_a_reference_that_fits_in_the_budget_is_fitted_in_memory_and_a_larger_one_sketched(tmp_path):
    frame = _frame(30_000)
    path = tmp_path / "reference.parquet"
    frame.to_parquet(path, row_group_size=3_000)
    columns = list(SCHEMA.named_columns)
    size = reference_bytes(path, columns)
    assert size >= 30_000 * 8 * 4  # four numbers a row, and the zone's text
    large, small = int(size * 2), int(size / 2)
    assert fits_in_memory(size, large, ("drift",)) and not fits_in_memory(size, small, ("drift",))
    # sections that fit model-level parts join the held chunks: they may hold half as much
    assert not fits_in_memory(size, int(size * 1.2), None) and fits_in_memory(size, int(size * 3), None)
    _, in_memory = ProfileSpec.fit_profile(frame, SCHEMA, parts=())
    held = fit_reference(path, SCHEMA, sections=("drift",), memory_budget=large)
    _same_profiles(in_memory, held.profile)
    sketched = fit_reference(path, SCHEMA, sections=("drift",), memory_budget=small)
    assert sketched.spec.fingerprint != in_memory.spec.fingerprint  # edges from the sketch's sample
    assert sketched.profile.columns["fare"].count == in_memory.columns["fare"].count


def test_read_ahead_keeps_order_and_errors_and_reads_one_chunk_ahead():
    pulled = []

    def source():
        for i in range(5):
            pulled.append(i)
            yield i
        raise ValueError("bad chunk")

    seen = []
    with pytest.raises(ValueError, match="bad chunk"):
        for item in read_ahead(source()):
            seen.append(item)
            assert len(pulled) <= len(seen) + 1  # never more than the next one read
    assert seen == [0, 1, 2, 3, 4]


def test_a_large_reference_gets_edges_from_its_sample_whatever_its_chunks():
    frame = _frame(30_000)
    specs = []
    for rows in (997, 30_000):
        sketch = ReferenceSketch(SCHEMA, sample_rows=10_000)
        for start in range(0, len(frame), rows):
            sketch.update(frame.iloc[start : start + rows])
        specs.append(sketch.spec(()))
    assert specs[0].fingerprint == specs[1].fingerprint
    spec = specs[0]
    # few values: all of them, exactly; many: quantiles of the sample between the column's own min and max
    assert spec.exact["passengers"] and spec.edges["passengers"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert not spec.exact["fare"] and len(spec.edges["fare"]) > 900
    assert spec.edges["fare"][[0, -1]].tolist() == [frame["fare"].min(), frame["fare"].max()]
    # each quantile cell holds about 1/1000 of the rows although edges came from a third of them
    profile = spec.profile(frame)
    cells = profile.columns["fare"].cell_counts[2:-1:2]
    assert cells.max() < 0.004 * profile.columns["fare"].count


def test_drift_decisions_match_the_in_memory_fit_on_a_reference_larger_than_the_sample():
    reference, current = _frame(40_000, 1), _frame(20_000, 2, shift=0.4)
    spec, reference_profile = ProfileSpec.fit_profile(reference, SCHEMA, parts=())
    in_memory = data_drift(reference_profile, spec.profile(current), DriftSettings())
    streamed = build_report(reference, current, SCHEMA, memory_budget=1 << 20, sections=("drift",))
    columns = streamed.sections["drift"]["columns"]
    for name, column in in_memory.columns.items():
        assert columns[name]["detected"] == column.detected, name
        assert columns[name]["score"] == pytest.approx(column.score, abs=0.01), name


def test_priority_sample_and_stride_sample_add_up_to_one_feed():
    frame = pd.DataFrame({"x": np.arange(5_000), "t": np.arange(5_000)[::-1]})
    whole_sample, whole_stream = PrioritySample(300, seed=3), StrideSample(700, time_column="t")
    whole_sample.update(frame)
    whole_stream.update(frame)
    cuts = [0, 1234, 1235, 4000, 5_000]
    samples = [PrioritySample(300, seed=3) for _ in cuts[:-1]]
    streams = [StrideSample(700, time_column="t") for _ in cuts[:-1]]
    for sample, stream, low, high in zip(samples, streams, cuts[:-1], cuts[1:], strict=True):
        for start in range(low, high, 97):
            chunk = frame.iloc[start : min(start + 97, high)]
            sample.update(chunk, first_row=start)
            stream.update(chunk, first_row=start)
    total_sample, total_stream = samples[0], streams[0]
    for sample, stream in zip(samples[1:], streams[1:], strict=True):
        total_sample, total_stream = total_sample + sample, total_stream + stream
    assert total_sample.frame().equals(whole_sample.frame()) and len(whole_sample.frame()) == 300
    assert total_stream.frame().equals(whole_stream.frame())
    # chunks that follow each other need no first_row: the same rows as one feed
    keeper = StrideSample(700, time_column="t")
    for start in range(0, 5_000, 611):
        keeper.update(frame.iloc[start : start + 611])
    assert keeper.frame().equals(whole_stream.frame())


def test_parquet_chunks_follow_the_memory_budget(tmp_path):
    path = tmp_path / "wide.parquet"
    pd.DataFrame(np.random.default_rng(0).normal(size=(50_000, 8)), columns=list("abcdefgh")).to_parquet(
        path, row_group_size=3_000
    )
    sizes = [len(chunk) for chunk in read_frames(path, memory_budget=1 << 20)]
    # a chunk's values take a quarter of the budget: 1 MiB / 4 / 64 bytes a row = 4096 rows
    assert sum(sizes) == 50_000 and max(sizes) <= 4096
    assert [len(chunk) for chunk in read_frames(path, memory_budget=64 << 20)] == [50_000]
