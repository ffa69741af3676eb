"""A parquet file whose row groups are larger than a chunk is read a few columns at a time, with
the decisions of reading whole rows and the memory of a few columns."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from modelmon.engine import column_passes
from modelmon.engine.build import build_report
from modelmon.reading.plan import ReadPlan
from modelmon.schema import Schema


def _frame(rows: int, columns: int, seed: int, shifted: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = {}
    for i in range(columns):
        values = rng.gamma(2 + i % 3, 2, rows) if i % 2 else rng.normal(i % 7, 1, rows)
        data[f"x{i:03d}"] = values + (0.4 if shifted and i % 5 == 0 else 0.0)
    data["zone"] = rng.choice(list("abcdef" if shifted else "abcde"), rows)
    data["count"] = rng.integers(0, 9, rows)  # few distinct values: exact edges
    data["pred"] = data["x000"] * 2
    data["y"] = data["pred"] + rng.normal(0, 1, rows)
    return pd.DataFrame(data)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Two files as DataFrame.to_parquet() writes them by default: one row group each."""
    folder = tmp_path_factory.mktemp("one-group")
    reference, current = folder / "reference.parquet", folder / "current.parquet"
    _frame(30_000, 60, 0, False).to_parquet(reference)
    _frame(20_000, 60, 1, True).to_parquet(current)
    return reference, current


def _same(left, right, where: str) -> None:
    """Equal, floats to 1e-9 relative (a sum's rounding follows the order of its terms)."""
    if isinstance(left, dict):
        assert set(left) == set(right), where
        for key in left:
            if key != "generated_at":
                _same(left[key], right[key], f"{where}.{key}")
    elif isinstance(left, list):
        assert len(left) == len(right), where
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            _same(a, b, f"{where}[{i}]")
    elif isinstance(left, float) and not isinstance(right, bool):
        assert right == pytest.approx(left, rel=1e-9, abs=1e-12, nan_ok=True), where
    else:
        assert left == right, where


SCHEMA = Schema(
    numerical=(*(f"x{i:03d}" for i in range(60)), "count"),
    categorical=("zone",),
    prediction="pred",
    target="y",
)
BUDGET = 4 << 20  # a chunk's share (1 MiB) holds 30,000 rows of four columns: 17 passes


def test_by_columns_the_report_is_the_one_of_whole_rows(files, monkeypatch):
    reference, current = files
    subsets = column_passes.by_columns(reference, SCHEMA, ("drift",), ReadPlan(BUDGET))
    assert subsets is not None and len(subsets) > 10 and max(map(len, subsets)) <= 4
    by_columns = build_report(reference, current, SCHEMA, sections=["drift"], memory_budget=BUDGET)
    monkeypatch.setattr(column_passes, "by_columns", lambda *arguments: None)
    by_rows = build_report(reference, current, SCHEMA, sections=["drift"], memory_budget=BUDGET)
    assert by_columns.reference_profile.spec.fingerprint == by_rows.reference_profile.spec.fingerprint
    # the same counts and decisions; sums and scores up to the order the chunks were added in
    _same(by_columns.to_dict(), by_rows.to_dict(), "report")
    for side in ("reference_profile", "current_profile"):
        ours, theirs = getattr(by_columns, side), getattr(by_rows, side)
        assert ours.rows == theirs.rows and ours.absent_columns == theirs.absent_columns == []
        _same(ours.to_dict(), theirs.to_dict(), side)
    drift = by_columns.sections["drift"]
    assert drift["columns"]["x000"]["detected"] and not drift["columns"]["x001"]["detected"]


def test_each_pass_of_the_reference_reads_it_once_where_every_row_fits_and_samples_rows_once(
    files, monkeypatch
):
    """A subset whose every row comes in one chunk is fitted and counted from that chunk; the row
    sample's priorities are drawn once per chunk, not once per pass."""
    from modelmon.engine import streaming

    reference, current = files
    subsets = column_passes.by_columns(reference, SCHEMA, ("drift",), ReadPlan(BUDGET))
    assert subsets is not None
    reads: list[tuple[str, int]] = []  # (the subset's first column, rows) of each reference chunk
    kinds: dict[str, str] = {}
    chunks = ReadPlan.chunks

    def counted_chunks(plan, data, columns=None, categories=()):
        for chunk in chunks(plan, data, columns, categories):
            if data == reference:
                reads.append((str(chunk.columns[0]), len(chunk)))
                kinds.update({str(name): str(kind) for name, kind in chunk.dtypes.items()})
            yield chunk

    drawn: list[int] = []
    priorities = streaming.row_priorities

    def counted_priorities(first_row, rows, seed=0):
        drawn.append(rows)
        return priorities(first_row, rows, seed)

    monkeypatch.setattr(ReadPlan, "chunks", counted_chunks)
    monkeypatch.setattr(streaming, "row_priorities", counted_priorities)
    build_report(reference, current, SCHEMA, sections=["drift"], memory_budget=BUDGET)
    whole = [first for first, rows in reads if rows == 30_000]
    assert len(whole) >= len(subsets) - 1 and len(whole) == len(set(whole)), reads  # once each
    split = [first for first, rows in reads if rows < 30_000]
    assert split and set(split) == {"zone"} and len(split) == 4, reads  # two chunks, read twice
    assert kinds["zone"] == "category" and kinds["x000"] == "float64", kinds  # text from its dictionary
    # the cut (once per sample that finds a chunk not drawn yet) and the two ways 30,000 rows came
    assert len(drawn) <= 5 and len(subsets) > 10, drawn


def test_whole_rows_are_read_when_a_section_needs_them_or_the_groups_fit(files):
    reference, _ = files
    for sections in (("drift", "quality"), ("drift", "performance"), ("outliers",)):
        assert column_passes.by_columns(reference, SCHEMA, sections, ReadPlan(BUDGET)) is None
    assert column_passes.by_columns(reference, SCHEMA, None, ReadPlan(BUDGET)) is None
    assert column_passes.by_columns(reference, SCHEMA, ("drift",), ReadPlan(256 << 20)) is None
    assert column_passes.by_columns(reference, SCHEMA, ("drift",), ReadPlan(BUDGET, 1_000)) is None


def test_a_reference_without_a_required_column_is_refused_naming_it(files, tmp_path):
    reference, current = files
    lacking = tmp_path / "lacking.parquet"
    pd.read_parquet(reference).drop(columns="x007").to_parquet(lacking)
    from modelmon.errors import SchemaError

    with pytest.raises(SchemaError, match="x007"):
        build_report(lacking, current, SCHEMA, sections=["drift"], memory_budget=BUDGET)


_PEAK = """
import json, sys
from modelmon.engine import column_passes
from modelmon.engine.build import build_report
from modelmon.schema import Schema
reference, current, mode = sys.argv[1:4]
if mode == "rows":
    column_passes.by_columns = lambda *arguments: None
names = [f"x{i:03d}" for i in range(int(sys.argv[4]))]
budget = int(sys.argv[5])
report = build_report(reference, current, Schema(numerical=names), sections=["drift"], memory_budget=budget)
drifted = sorted(n for n, c in report.sections["drift"]["columns"].items() if c["detected"])
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({"peak_mib": peak / 1024, "drifted": drifted}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads the peak from /proc")
def test_a_one_row_group_file_is_read_in_bounded_memory(tmp_path):
    """60k x 300 floats in one row group (144 MB a file) under a 64 MiB budget, so neither side is
    held whole (the files are to the budget as 200k x 1,000 is to the default 256 MiB, scaled to
    run quickly; ``python -m bench.wide_layout`` measures that size): read by columns the report
    peaks well below reading by row batches, with the same decisions."""
    columns, budget = 300, 64 << 20
    reference, current = tmp_path / "reference.parquet", tmp_path / "current.parquet"
    for path, seed, shifted in ((reference, 0, False), (current, 1, True)):
        _frame(60_000, columns, seed, shifted).to_parquet(path)

    def run(mode: str) -> dict:
        command = [sys.executable, "-c", _PEAK, str(reference), str(current), mode, str(columns), str(budget)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])

    by_columns, by_rows = run("columns"), run("rows")
    assert by_columns["drifted"] == by_rows["drifted"] and "x000" in by_columns["drifted"]
    assert by_columns["peak_mib"] < 450, by_columns  # 303 MiB against 799 by rows, 2026-12-07
    assert by_columns["peak_mib"] < 0.6 * by_rows["peak_mib"], (by_columns, by_rows)
