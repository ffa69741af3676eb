"""Reading datasets (parquet or CSV) in chunks, so memory does not grow with the number of rows.

Parquet is read with ``pyarrow.parquet.ParquetFile.iter_batches`` (only the columns asked for);
CSV with pandas' ``chunksize``. Errors name the file and say what is wrong.

>>> import tempfile, pathlib
>>> import pandas as pd
>>> path = pathlib.Path(tempfile.mkdtemp()) / "rows.csv"
>>> pd.DataFrame({"a": range(5), "b": list("vwxyz")}).to_csv(path, index=False)
>>> [len(chunk) for chunk in read_frames(path, columns=["a"], chunk_rows=2)]
[2, 2, 1]
>>> count_rows(path), file_columns(path)
(5, ['a', 'b'])
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd

from modelmon.errors import InputError

__all__ = ["count_rows", "file_columns", "file_format", "read_frame", "read_frames"]

PathLike = str | os.PathLike[str]

_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".gz": "csv"}


def file_format(path: PathLike) -> str:
    """``"parquet"`` or ``"csv"`` from the file name; an error for anything else or a missing file."""
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix == ".gz" and not file.name.lower().endswith(".csv.gz"):
        suffix = ""
    if suffix not in _FORMATS:
        raise InputError(
            f"{file}: unknown data file type {file.suffix or '(no extension)'!r}; "
            "use .parquet, .pq, .csv or .csv.gz"
        )
    if not file.is_file():
        raise InputError(f"{file}: no such file")
    return _FORMATS[suffix]


def file_columns(path: PathLike) -> list[str]:
    """Column names of a data file, read from its header or metadata only."""
    file = Path(path)
    try:
        if file_format(file) == "parquet":
            import pyarrow.parquet as pq

            return [str(name) for name in pq.ParquetFile(file).schema_arrow.names]
        return [str(name) for name in pd.read_csv(file, nrows=0).columns]
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{file}: cannot read the column names: {exc}") from exc


def count_rows(path: PathLike) -> int:
    """Rows in a data file: from the metadata for parquet, by counting lines for CSV.

    For CSV the count is the number of line breaks after the header, so a quoted value that spans
    lines counts more than once; it is meant for progress bars, not for results.
    """
    file = Path(path)
    try:
        if file_format(file) == "parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(file).metadata.num_rows)
        if file.name.lower().endswith(".gz"):
            import gzip

            with gzip.open(file, "rb") as handle:
                return max(
                    sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b"")) - 1, 0
                )
        with open(file, "rb") as handle:
            lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
            handle.seek(max(file.stat().st_size - 1, 0))
            unterminated = 1 if file.stat().st_size and handle.read(1) != b"\n" else 0
        return max(lines + unterminated - 1, 0)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{file}: cannot count rows: {exc}") from exc


def read_frames(
    path: PathLike, columns: Iterable[str] | None = None, chunk_rows: int = 200_000
) -> Iterator[pd.DataFrame]:
    """Chunks of at most ``chunk_rows`` rows; ``columns`` absent from the file are skipped silently.

    Asking for columns that are not there is not an error here: the profile records them as absent
    and the report's schema check lists them.
    """
    if chunk_rows < 1:
        raise InputError(f"chunk_rows must be a positive number of rows, got {chunk_rows}")
    file = Path(path)
    kind = file_format(file)
    present = file_columns(file)
    asked = None if columns is None else set(columns)
    wanted = [name for name in present if asked is None or name in asked]
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            # without pre-buffering, row groups already read are released as the loop goes on
            parquet = pq.ParquetFile(file, pre_buffer=False)
            if not wanted:
                for start in range(0, parquet.metadata.num_rows, chunk_rows):
                    yield pd.DataFrame(
                        index=pd.RangeIndex(min(chunk_rows, parquet.metadata.num_rows - start))
                    )
                return
            for batch in parquet.iter_batches(batch_size=chunk_rows, columns=wanted):
                # one pandas block per column: numbers are not copied into one 2-D block
                yield batch.to_pandas(split_blocks=True)
        else:
            keep = set(wanted)
            with pd.read_csv(file, chunksize=chunk_rows, usecols=lambda name: name in keep) as reader:
                yield from reader
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{file}: cannot read it as {kind}: {exc}") from exc


def read_frame(path: PathLike, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """The whole file as one frame (for a reference dataset, which is fitted in one piece)."""
    file = Path(path)
    asked = None if columns is None else set(columns)
    if file_format(file) == "parquet":
        wanted = [name for name in file_columns(file) if asked is None or name in asked]
        if wanted:
            import pyarrow.parquet as pq

            try:
                table = pq.read_table(file, columns=wanted, pre_buffer=False)
            except Exception as exc:
                raise InputError(f"{file}: cannot read it as parquet: {exc}") from exc
            # each column's arrow buffers are freed as soon as it is converted: about half the peak
            return table.to_pandas(self_destruct=True, split_blocks=True)
    chunks = list(read_frames(path, asked, chunk_rows=1_000_000))
    if not chunks:
        return pd.DataFrame(columns=file_columns(path))
    return chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)
