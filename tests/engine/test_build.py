"""The report builder: chunked == whole, files == frames, bounded samples, every report key."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modelmon.engine.build import build_report
from modelmon.engine.report import ReportInputs
from modelmon.engine.sections import section_names
from modelmon.engine.sides import DuplicateCounter
from modelmon.errors import InputError, SchemaError
from modelmon.schema import Schema

DESIGN_KEYS = {"reference_rows", "current_rows", "drift", "quality", "performance", "segments"}
DESIGN_KEYS |= {"fairness", "outliers", "explain", "concept"}
SCHEMA = Schema(
    numerical=["distance", "fare"],
    categorical=["zone", "vendor"],
    prediction="duration",
    target="actual",
    timestamp="time",
    id="ride",
)


def frames(rows: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def make(n: int, shift: float) -> pd.DataFrame:
        frame = pd.DataFrame(
            {
                "ride": [f"r{seed}-{shift}-{i}" for i in range(n)],
                "time": pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(n), unit="min"),
                "distance": np.round(rng.exponential(3 + shift, n), 1),
                "fare": rng.normal(20 + shift, 4, n),
                "zone": rng.choice([1, 2, 3, 4], n),
                "vendor": rng.choice(["a", "b"], n),
                "duration": rng.normal(15, 3, n),
                "actual": rng.normal(15, 3, n),
            }
        )
        return frame

    reference, current = make(rows, 0.0), make(rows, 2.0)
    current.loc[current.index[::10], "distance"] = np.nan
    return reference, current


def test_report_has_every_design_key_and_is_strict_json():
    reference, current = frames(500)
    data = build_report(reference, current, SCHEMA).to_dict()
    assert DESIGN_KEYS | set(section_names()) | {"schema", "generated_at", "modelmon_version"} <= set(data)
    assert data["reference_rows"] == 500 and data["current_rows"] == 500
    for key in section_names():
        assert isinstance(data[key], dict)
        if data[key].get("applicable") is False:
            assert data[key]["reason"]
    assert {"dataset_drift", "drifted_share", "columns"} <= set(data["drift"])
    assert set(data["drift"]["columns"]["fare"]) >= {"method", "score", "threshold", "detected", "p_value"}
    from modelmon.render.json import dumps

    assert json.loads(dumps(data))["quality"]["columns"]["fare"]["kind"] == "numerical"


def assert_close(left, right, where="report"):
    """Equal up to float rounding (sums over chunks add in another order)."""
    if isinstance(left, dict):
        assert set(left) == set(right), where
        for key in left:
            assert_close(left[key], right[key], f"{where}.{key}")
    elif isinstance(left, list | tuple):
        assert len(left) == len(right), where
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            assert_close(a, b, f"{where}[{i}]")
    elif isinstance(left, float) and not isinstance(right, bool):
        assert right == pytest.approx(left, rel=1e-9, abs=1e-12, nan_ok=True), where
    else:
        assert left == right, where


def _comparable(data: dict) -> dict:
    return {key: value for key, value in data.items() if key != "generated_at"}


def test_chunked_build_equals_whole_build():
    reference, current = frames()
    whole = build_report(reference, current, SCHEMA, chunk_rows=1_000_000, sections=("drift", "quality"))
    chunked = build_report(reference, current, SCHEMA, chunk_rows=113, sections=("drift", "quality"))
    assert_close(chunked.current_profile.to_dict(), whole.current_profile.to_dict())
    assert_close(_comparable(chunked.to_dict()), _comparable(whole.to_dict()))


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_build_from_files_equals_build_from_frames(tmp_path, suffix):
    reference, current = frames()
    paths = {}
    for name, frame in (("reference", reference), ("current", current.assign(extra=1))):
        paths[name] = tmp_path / f"{name}.{suffix}"
        getattr(frame, f"to_{suffix}")(paths[name], index=False)
    only = ("drift", "quality")
    from_files = build_report(paths["reference"], paths["current"], SCHEMA, chunk_rows=400, sections=only)
    from_frames = build_report(reference, current.assign(extra=1), SCHEMA, sections=only)
    from_files, from_frames = from_files.to_dict(), from_frames.to_dict()
    assert from_files["quality"]["schema"]["unexpected_columns"] == ["extra"]
    for key in ("quality", "drift", "distributions", "current_rows"):
        assert_close(from_files[key], from_frames[key], key)


def test_duplicates_are_counted_exactly_across_chunks(tmp_path):
    reference, current = frames(2000)
    repeated = pd.concat([current, current.iloc[:150], current.iloc[:20]], ignore_index=True)
    repeated["ride"] = [f"id{i}" for i in range(len(repeated))]  # ids differ: not part of the comparison
    path = tmp_path / "current.csv"
    repeated.to_csv(path, index=False)
    report = build_report(reference, path, SCHEMA, chunk_rows=97, sections=("quality",))
    expected = int(repeated.duplicated(subset=list(SCHEMA.monitored_columns)).sum())
    duplicates = report.sections["quality"]["duplicates"]
    assert expected >= 170 and duplicates["duplicated"] == expected
    assert duplicates["share"] == expected / len(repeated)


def test_duplicate_counter_hashes_integers_and_floats_alike():
    counter = DuplicateCounter(["a", "b"])
    counter.update(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    counter.update(pd.DataFrame({"a": [1.0, np.nan], "b": ["x", "y"]}))
    assert counter.result() == {"rows": 4, "duplicated": 1}


def test_sections_get_bounded_samples_and_a_time_ordered_stream(monkeypatch):
    from modelmon import sections

    seen: list[ReportInputs] = []
    probe = sections.Section("probe", lambda inputs: seen.append(inputs) or {"ok": True}, reads_rows=True)
    monkeypatch.setattr(sections, "REGISTRY", (*sections.REGISTRY, probe))
    reference, current = frames(4000)
    shuffled = current.sample(frac=1.0, random_state=1)
    report = build_report(reference, shuffled, SCHEMA, chunk_rows=500, sample_rows=300, stream_rows=1000)
    inputs = seen[0]
    assert len(inputs.reference_sample) == 300 and len(inputs.current_sample) == 300
    assert inputs.current_sample["ride"].is_unique
    stream = inputs.current_stream
    assert list(stream.columns) == ["time", "duration", "actual"]
    assert 500 <= len(stream) <= 1000 and stream["time"].is_monotonic_increasing
    assert report.to_dict()["probe"] == {"ok": True}


def test_schema_inferred_when_not_given():
    reference, current = frames(300)
    report = build_report(
        reference[["distance", "vendor"]], current[["distance", "vendor"]], sections=("quality",)
    )
    assert report.schema.numerical == ("distance",) and report.schema.categorical == ("vendor",)


def test_errors_name_the_input(tmp_path):
    reference, current = frames(100)
    with pytest.raises(InputError, match=r"missing\.parquet"):
        build_report(reference, tmp_path / "missing.parquet", SCHEMA)
    with pytest.raises(SchemaError, match="fare"):
        build_report(reference.drop(columns=["fare"]), current, SCHEMA)
    with pytest.raises(InputError, match="chunk_rows"):
        build_report(reference, current, SCHEMA, chunk_rows=0)


def test_distributions_are_shares_from_the_profiles():
    reference, current = frames(1000)
    shapes = build_report(reference, current, SCHEMA, sections=()).distributions
    fare, zone = shapes["fare"], shapes["zone"]
    assert len(fare["bins"]) == 31 and sum(fare["current"]) == pytest.approx(1.0)
    assert fare["bins"][0] == min(reference["fare"].min(), current["fare"].min())
    expected = reference["zone"].astype(str).value_counts(normalize=True)
    assert dict(zip(zone["labels"], zone["reference"], strict=True))["1"] == pytest.approx(expected["1"])


def test_progress_bar_over_chunks_does_not_change_the_result(tmp_path):
    reference, current = frames(600)
    path = tmp_path / "current.parquet"
    current.to_parquet(path)
    quiet = build_report(reference, path, SCHEMA, chunk_rows=100, sections=("quality",))
    shown = build_report(reference, path, SCHEMA, chunk_rows=100, sections=("quality",), progress=True)
    assert_close(shown.sections, quiet.sections)


def test_memory_grows_only_by_the_duplicate_hashes(tmp_path, monkeypatch):
    import tracemalloc

    from modelmon.engine import parts

    # model-level parts are bounded by design and tested with their sections; here they only cost time
    monkeypatch.setattr(parts, "PART_TYPES", {})

    rng = np.random.default_rng(3)
    schema = Schema(numerical=["a", "b"], categorical=["z"])

    def make(rows: int) -> pd.DataFrame:
        return pd.DataFrame(
            {"a": rng.normal(size=rows), "b": rng.exponential(size=rows), "z": rng.choice(list("pqr"), rows)}
        )

    reference = make(5000)
    peaks = {}
    for rows in (20_000, 200_000):
        path = tmp_path / f"current_{rows}.parquet"
        make(rows).to_parquet(path)
        tracemalloc.start()
        build_report(reference, path, schema, chunk_rows=10_000, sections=("quality",))
        peaks[rows] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    # 16 bytes per row while duplicates are counted; every other thing kept is bounded
    assert (peaks[200_000] - peaks[20_000]) / 180_000 < 24


def test_sections_fit_only_the_parts_and_rows_they_read_and_count_duplicates_only_for_quality():
    from modelmon.engine.sides import CurrentSide, ReferenceSide

    reference, current = frames(600)
    side = ReferenceSide.fit(reference, SCHEMA, sections=("drift", "fairness"))
    assert set(side.spec.state) - {"_edge_lookups", "_category_index"} <= {"fairness"}
    assert side.duplicate_share is None and side.sample is None  # neither section reads rows
    fed = CurrentSide(side)
    fed.update(current)
    assert fed.duplicates is None and fed.sample is None
    # a section that reads rows, asked later, says it has none instead of failing
    assert fed.report(sections=("multivariate",)).sections["multivariate"]["applicable"] is False
    assert len(ReferenceSide.fit(reference, SCHEMA, sections=("outliers",), sample_rows=50).sample) == 50
    # quality asked later still runs; it says duplicates were not counted instead of inventing them
    quality = fed.report(sections=("quality",)).sections["quality"]
    assert quality["duplicates"]["applicable"] is False
    counted = ReferenceSide.fit(reference, SCHEMA, sections=("quality",))
    assert counted.duplicate_share == 0.0
    assert not set(counted.spec.state) - {"_edge_lookups", "_category_index"}
    with pytest.raises(InputError, match=r"unknown report section\(s\) \['speed'\]"):
        build_report(reference, current, SCHEMA, sections=("drift", "speed"))


def test_a_drift_report_does_not_load_the_other_sections_modules(tmp_path):
    import subprocess
    import sys

    reference, current = frames(300)
    reference.to_parquet(tmp_path / "reference.parquet")
    current.to_parquet(tmp_path / "current.parquet")
    code = (
        "import sys\n"
        "from modelmon.engine.build import build_report\n"
        "from modelmon.schema import Schema\n"
        f"schema = Schema.from_dict({ {k: v for k, v in SCHEMA.to_dict().items() if k != 'extra'}!r})\n"
        f"report = build_report({str(tmp_path / 'reference.parquet')!r}, "
        f"{str(tmp_path / 'current.parquet')!r}, schema, sections=['drift'])\n"
        "assert report.sections['drift']['columns']\n"
        "others = ['sklearn'] + ['modelmon.engine.' + name for name in "
        "('quality', 'outliers', 'explain', 'multivariate', 'concept', 'segments', 'fairness')]\n"
        "print([name for name in others if name in sys.modules])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
