"""A parquet footer split by row group: the same rows as pyarrow reads, without holding the footer."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import modelmon.reading.parquet_footer as footer_module
from modelmon.reading.files import count_rows, file_columns, read_frames, read_row_groups, row_bytes
from modelmon.reading.parquet_footer import SplitFooter, footer_size, split_footer


@pytest.fixture
def mixed(tmp_path):
    """40 row groups of every kind of column a monitored dataset has (nulls, text, nested, time)."""
    rows = 400
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": np.where(rng.random(rows) < 0.1, np.nan, rng.normal(size=rows)),
            "n": rng.integers(0, 9, rows),
            "zone": pd.Categorical(rng.choice(["a", "b", "c"], rows)),
            "note": [None if i % 7 == 0 else f"note {i}" for i in range(rows)],
            "ok": rng.random(rows) < 0.5,
            "at": pd.date_range("2026-01-01", periods=rows, freq="min", tz="UTC"),
            "tags": [[i, i + 1] for i in range(rows)],
            "day": [dt.date(2026, 1, 1 + i % 28) for i in range(rows)],
        }
    )
    path = tmp_path / "mixed.parquet"
    frame.to_parquet(path, row_group_size=10)
    return path, frame


@pytest.mark.parametrize("groups", [[0], [3, 4, 5], list(range(0, 40, 3)), list(range(40)), []])
def test_a_footer_of_some_row_groups_reads_them_as_the_whole_file_does(mixed, groups):
    path, frame = mixed
    footer = SplitFooter(path)
    assert footer.num_rows == len(frame) and footer.row_group_rows == [10] * 40
    part = pq.ParquetFile(path, metadata=footer.metadata(groups))
    whole = pq.ParquetFile(path)
    assert part.metadata.num_row_groups == len(groups)
    assert part.metadata.num_rows == 10 * len(groups)
    assert part.schema_arrow.equals(whole.schema_arrow, check_metadata=True)
    if groups:
        assert part.read_row_groups(list(range(len(groups)))).equals(whole.read_row_groups(groups))


def test_the_readers_give_the_same_chunks_whether_or_not_the_footer_is_split(mixed, monkeypatch):
    path, _ = mixed

    def read() -> tuple:
        return (
            [chunk for chunk in read_frames(path, chunk_rows=35)],
            [chunk for chunk in read_row_groups(path, [2, 9, 17], ["x", "note"], chunk_rows=15)],
            count_rows(path),
            file_columns(path),
            row_bytes(path),
        )

    monkeypatch.setattr(footer_module, "LARGE_FOOTER", 1 << 40)
    whole = read()
    monkeypatch.setattr(footer_module, "LARGE_FOOTER", 0)
    assert split_footer(path) is not None
    split = read()
    for left, right in zip(whole[0] + whole[1], split[0] + split[1], strict=True):
        pd.testing.assert_frame_equal(left, right)
    assert whole[2:] == split[2:]
    assert [len(chunk) for chunk in split[0]] == [30] * 13 + [10]  # whole row groups, as before


def test_a_file_that_does_not_end_as_parquet_is_left_to_pyarrow_to_report(tmp_path, monkeypatch):
    monkeypatch.setattr(footer_module, "LARGE_FOOTER", 0)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1" + b"\0" * 64)
    assert split_footer(broken) is None
    with pytest.raises(ValueError, match="no parquet footer"):
        footer_size(broken)


_HELD = """
import sys
import numpy as np, pyarrow as pa, pyarrow.parquet as pq
import modelmon.reading.files as io, modelmon.reading.parquet_footer as footer
path, mode = sys.argv[1], sys.argv[2]
footer.LARGE_FOOTER = 1 << 40 if mode == "whole" else 0

def resident():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024

pq.ParquetFile(sys.argv[3]).read()  # pyarrow's own first allocations, on a small file
before = resident()
parquet = io._RowGroups.open(path)  # as the readers open it, and hold it while they read
table = parquet.read([7], ["c000"])  # one row group read from it
print(resident() - before)
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the resident memory from /proc")
def test_a_large_footer_is_not_held_while_its_file_is_read(tmp_path):
    path = tmp_path / "narrow_groups.parquet"
    values = {f"c{i:03d}": np.arange(10_000, dtype=np.float64) + i for i in range(200)}
    pq.write_table(pa.table(values), path, row_group_size=25)  # 400 row groups x 200 columns
    size = footer_size(path) / 2**20
    assert size > 4  # MiB of footer on disk

    small = tmp_path / "small.parquet"
    pq.write_table(pa.table({"c000": [1.0, 2.0]}), small)

    def held(mode: str) -> float:
        command = [sys.executable, "-c", _HELD, str(path), mode, str(small)]
        return float(subprocess.run(command, capture_output=True, text=True, check=True).stdout)

    # pyarrow holds the parsed footer while the file is open; split, only the row groups read
    assert held("whole") > size
    assert held("split") < size / 4
