"""Reading data files in chunks, with errors that name the file."""

from __future__ import annotations

import pandas as pd
import pytest

from modelmon.errors import InputError
from modelmon.reading.files import count_rows, file_columns, read_frame, read_frames


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


def test_text_columns_asked_as_categories_come_from_the_dictionaries(tmp_path):
    path = tmp_path / "zones.parquet"
    zones = ["b", None, "a", "b"] * 50
    pd.DataFrame({"zone": zones, "count": [1, 2, 3, 4] * 50}).to_parquet(path, row_group_size=60)
    plain = pd.concat(read_frames(path, chunk_rows=70), ignore_index=True)
    chunks = list(read_frames(path, chunk_rows=70, categories=["zone", "count", "absent"]))
    assert [len(chunk) for chunk in chunks] == [60, 60, 60, 20]
    assert all(str(chunk["zone"].dtype) == "category" for chunk in chunks)
    assert all(str(chunk["count"].dtype) == "int64" for chunk in chunks)  # numbers as they are
    joined = pd.concat([chunk.astype({"zone": object}) for chunk in chunks], ignore_index=True)
    assert joined["zone"].where(joined["zone"].notna(), None).tolist() == zones
    assert joined["count"].tolist() == plain["count"].tolist()
