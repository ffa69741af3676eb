"""Reading data files in chunks, with errors that name the file."""

from __future__ import annotations

import pandas as pd
import pytest

from modelmon.errors import InputError
from modelmon.io import count_rows, file_columns, read_frame, read_frames


@pytest.fixture
def frame():
    return pd.DataFrame({"a": range(1000), "b": [f"v{i % 7}" for i in range(1000)], "c": 1.5})


@pytest.mark.parametrize("name", ["data.parquet", "data.csv", "data.csv.gz"])
def test_chunks_hold_only_the_asked_columns(tmp_path, frame, name):
    path = tmp_path / name
    frame.to_parquet(path) if name.endswith("parquet") else frame.to_csv(path, index=False)
    chunks = list(read_frames(path, columns=["b", "a", "absent"], chunk_rows=300))
    assert [len(chunk) for chunk in chunks] == [300, 300, 300, 100]
    assert all(sorted(chunk.columns) == ["a", "b"] for chunk in chunks)
    assert pd.concat(chunks, ignore_index=True)["a"].tolist() == list(range(1000))
    assert count_rows(path) == 1000 and file_columns(path) == ["a", "b", "c"]
    assert read_frame(path).shape == (1000, 3)


def test_csv_row_count_without_final_newline(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n3,4")
    assert count_rows(path) == 2


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.parquet", None, "missing.parquet: no such file"),
        ("data.xlsx", b"x", "unknown data file type '.xlsx'"),
        ("broken.parquet", b"not parquet at all", "broken.parquet"),
        ("broken.csv", b"\xff\xfe\x00bad\x00", "broken.csv"),
    ],
)
def test_errors_name_the_file_and_the_problem(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        list(read_frames(path))


def test_chunk_rows_must_be_positive(tmp_path, frame):
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError, match="chunk_rows"):
        list(read_frames(path, chunk_rows=0))


def test_reuse_freed_memory_switches_pyarrow_to_the_system_allocator_unless_told_otherwise(monkeypatch):
    import pyarrow as pa

    from modelmon.io import reuse_freed_memory

    before = pa.default_memory_pool()
    try:
        monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", before.backend_name)
        pa.set_memory_pool(pa.mimalloc_memory_pool() if before.backend_name != "mimalloc" else before)
        chosen = pa.default_memory_pool().backend_name
        reuse_freed_memory()
        assert pa.default_memory_pool().backend_name == chosen  # the user's choice wins
        monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL")
        reuse_freed_memory()
        assert pa.default_memory_pool().backend_name == "system"
    finally:
        pa.set_memory_pool(before)


_TEMPORARIES = """
import resource, sys
import numpy as np
from modelmon.engine.cells import EdgeLookup
if sys.argv[1] == "reuse":
    from modelmon.io import reuse_freed_memory
    reuse_freed_memory()
values = np.random.default_rng(0).normal(size=1 << 16)
lookup = EdgeLookup(np.quantile(values, np.linspace(0, 1, 1001)))
lookup.cells(values)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):
    lookup.cells(values)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(
    __import__("platform").libc_ver()[0] != "glibc", reason="the heap pad is glibc's (mallopt)"
)
def test_reuse_freed_memory_keeps_a_lookups_temporaries_instead_of_faulting_them_back_in():
    import os
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items() if not key.startswith("MALLOC_")}

    def faults(mode: str) -> int:
        command = [sys.executable, "-c", _TEMPORARIES, mode]
        return int(subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout)

    # each lookup of 65,536 values makes three temporaries of 512 KiB: by default glibc returns
    # them to the system and faults them back in (128 pages each) on every one of the 200 calls
    assert faults("default") > 200 * 128
    assert faults("reuse") < 2_000
