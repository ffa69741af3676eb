"""Reading datasets (parquet or CSV) in chunks, so memory does not grow with the number of rows.

Parquet is read with ``pyarrow.parquet.ParquetFile.iter_batches`` (only the columns asked for);
CSV with pandas' ``chunksize``. Chunks are sized by a memory budget in bytes (default
:data:`DEFAULT_MEMORY_BUDGET`, 256 MiB): a chunk's values take at most a quarter of it, leaving
the rest for the copies profiling makes of a chunk while it works on it (see
:func:`chunk_rows_for`). Errors name the file and say what is wrong.

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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from modelmon.errors import InputError
from modelmon.reading.sizes import DEFAULT_MEMORY_BUDGET, parse_bytes

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "chunk_rows_for",
    "column_subsets",
    "count_rows",
    "file_columns",
    "file_format",
    "frame_row_bytes",
    "nested_columns",
    "parquet_partitions",
    "parse_bytes",
    "read_ahead",
    "read_footers",
    "read_frame",
    "read_frames",
    "read_row_groups",
    "row_bytes",
]

PathLike = str | os.PathLike[str]

#: a chunk's values take this share of the budget; reading, converting and profiling a chunk make
#: up to three more copies of it (the arrow batch, the pandas frame, float arrays and row hashes)
CHUNK_SHARE = 4
#: bytes guessed per string value held by pandas (an object pointer and a small str)
_STRING_BYTES = 64


def chunk_rows_for(row_size: float, memory_budget: int = DEFAULT_MEMORY_BUDGET) -> int:
    """Rows per chunk so that a chunk's values (``row_size`` bytes a row) take a quarter of the budget.

    >>> chunk_rows_for(8 * 1000), chunk_rows_for(8 * 20)
    (8388, 419430)
    """
    return max(int(memory_budget // CHUNK_SHARE // max(row_size, 1.0)), 1)


def frame_row_bytes(frame: pd.DataFrame) -> float:
    """Bytes a row of ``frame`` takes in memory (strings measured on its first thousand rows)."""
    head = frame.iloc[:1000]
    if len(head) == 0:
        return 8.0 * max(len(frame.columns), 1)
    return max(float(head.memory_usage(index=False, deep=True).sum()) / len(head), 1.0)


def row_bytes(path: PathLike, columns: Iterable[str] | None = None) -> float:
    """Bytes a row of the file's ``columns`` takes once read into pandas (an estimate).

    Parquet: 8 bytes per number (profiles read them as float64), the uncompressed size per row of
    other columns plus a string's overhead; CSV: pandas' own measure of its first thousand rows.
    """
    file = Path(path)
    asked = None if columns is None else set(columns)
    try:
        if file_format(file) == "parquet":
            import pyarrow as pa

            parquet = _RowGroups.open(file)
            arrow = parquet.schema_arrow
            stored: list[int] | None = None  # every column's bytes, read once if any is not a number
            total = 0.0
            for i, name in enumerate(arrow.names):
                if asked is not None and name not in asked:
                    continue
                kind = arrow.field(name).type
                if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
                    total += 8.0
                    continue
                stored = parquet.column_bytes() if stored is None else stored
                total += stored[i] / max(parquet.num_rows, 1) + _STRING_BYTES
            return max(total, 1.0)
        head = pd.read_csv(file, nrows=1000, usecols=None if asked is None else lambda name: name in asked)
        return frame_row_bytes(head)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{file}: cannot read it to size its chunks: {exc}") from exc


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
            return [str(name) for name in _RowGroups.open(file).schema_arrow.names]
        return [str(name) for name in pd.read_csv(file, nrows=0).columns]
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{file}: cannot read the column names: {exc}") from exc


def nested_columns(path: PathLike) -> dict[str, str]:
    """The struct, list and map columns of a parquet file, with their types (a CSV file has none):
    read from its metadata only.

    >>> import tempfile, pyarrow as pa, pyarrow.parquet as pq
    >>> path = Path(tempfile.mkdtemp()) / "nested.parquet"
    >>> pq.write_table(pa.table({"x": [1.0], "tags": [["a", "b"]]}), path)
    >>> nested_columns(path)
    {'tags': 'list<element: string>'}
    """
    import pyarrow as pa

    file = Path(path)
    if file_format(file) != "parquet":
        return {}
    try:
        arrow = _RowGroups.open(file).schema_arrow
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{file}: cannot read the column types: {exc}") from exc
    return {str(field.name): str(field.type) for field in arrow if pa.types.is_nested(field.type)}


def count_rows(path: PathLike) -> int:
    """Rows in a data file: from the metadata for parquet, by counting lines for CSV.

    For CSV the count is the number of line breaks after the header, so a quoted value that spans
    lines counts more than once; it is meant for progress bars, not for results.
    """
    file = Path(path)
    try:
        if file_format(file) == "parquet":
            return _RowGroups.open(file).num_rows
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
    path: PathLike,
    columns: Iterable[str] | None = None,
    chunk_rows: int | None = None,
    *,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    categories: Iterable[str] = (),
) -> Iterator[pd.DataFrame]:
    """Chunks of at most ``chunk_rows`` rows (default: as many as the memory budget allows);
    ``columns`` absent from the file are skipped silently. Text columns of a parquet file named in
    ``categories`` come as pandas categoricals, read from the file's dictionaries without decoding
    each row's string (several times cheaper; CSV columns come as they are).

    Asking for columns that are not there is not an error here: the profile records them as absent
    and the report's schema check lists them.
    """
    if columns is not None:
        columns = list(columns)
    if chunk_rows is None:
        chunk_rows = chunk_rows_for(row_bytes(path, columns), memory_budget)
    if chunk_rows < 1:
        raise InputError(f"chunk_rows must be a positive number of rows, got {chunk_rows}")
    file = Path(path)
    kind = file_format(file)
    present = file_columns(file)
    asked = None if columns is None else set(columns)
    wanted = [name for name in present if asked is None or name in asked]
    try:
        if kind == "parquet":
            parquet = _RowGroups.open(file, dictionary=[name for name in categories if name in wanted])
            if not wanted:
                for start in range(0, parquet.num_rows, chunk_rows):
                    yield pd.DataFrame(index=pd.RangeIndex(min(chunk_rows, parquet.num_rows - start)))
                return
            yield from _parquet_chunks(parquet, list(range(parquet.count)), wanted, chunk_rows)
        else:
            keep = set(wanted)
            with pd.read_csv(file, chunksize=chunk_rows, usecols=lambda name: name in keep) as reader:
                yield from reader
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{file}: cannot read it as {kind}: {exc}") from exc


def column_subsets(
    path: PathLike, columns: Iterable[str], memory_budget: int = DEFAULT_MEMORY_BUDGET
) -> list[list[str]] | None:
    """``columns`` (those in the file) in subsets whose values in the file's largest row group take
    at most a chunk's share of the budget; ``None`` when whole rows of every row group fit in a
    chunk (or the file is not parquet), so reading it by rows is bounded already.

    pandas' ``DataFrame.to_parquet()`` puts up to about a million rows in one row group, and
    pyarrow, reading such a group row batch by row batch, holds each column's whole column chunk
    or its current page and dictionary: 200k x 1,000 floats took 2.8 GB to read by batches of
    8,388 rows. Whole row groups of a few columns at a time take what those columns take.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "wide.parquet"
    >>> pd.DataFrame({f"x{i}": [0.5] * 100_000 for i in range(6)}).to_parquet(path)
    >>> column_subsets(path, ["x0", "x1", "x2", "x3", "x4", "x5", "absent"], memory_budget=8 << 20)
    [['x0', 'x1'], ['x2', 'x3'], ['x4', 'x5']]
    >>> column_subsets(path, ["x0", "x1"], memory_budget=256 << 20) is None
    True
    """
    file = Path(path)
    if file_format(file) != "parquet":
        return None
    present = set(file_columns(file))
    wanted = [name for name in dict.fromkeys(columns) if name in present]
    parquet = _RowGroups.open(file)
    largest = max((parquet.rows(group) for group in range(parquet.count)), default=0)
    share = memory_budget // CHUNK_SHARE
    if not wanted or largest * row_bytes(file, wanted) <= share:
        return None
    import pyarrow as pa

    arrow = parquet.schema_arrow
    subsets: list[list[str]] = [[]]
    taken = 0.0
    for name in wanted:
        kind = arrow.field(name).type
        numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
        size = largest * (8.0 if numeric else row_bytes(file, [name]))  # as row_bytes counts them
        if subsets[-1] and taken + size > share:
            subsets.append([])
            taken = 0.0
        subsets[-1].append(name)
        taken += size
    return subsets


def read_footers(*paths: PathLike) -> None:
    """Read the footers of those ``paths`` that are parquet files with a large footer now, to be
    kept split by row group (:func:`~modelmon.reading.parquet_footer.split_footer`): splitting a footer
    holds it whole for a moment, which a caller does best before its own memory grows."""
    from modelmon.reading.parquet_footer import split_footer

    for path in paths:
        if Path(path).suffix.lower() in (".parquet", ".pq") and Path(path).is_file():
            split_footer(path)


#: row groups whose metadata is read at a time when sizing a column of a file with a large footer
_SIZED_GROUPS = 64


class _RowGroups:
    """A parquet file's row groups, read a few at a time.

    A file whose footer is small is opened once, as pyarrow opens it. A file with a larger footer
    (:data:`~modelmon.reading.parquet_footer.LARGE_FOOTER`) is opened for each read with the footer of
    only the row groups it reads (:func:`~modelmon.reading.parquet_footer.split_footer`): pyarrow would
    otherwise hold every row group's metadata, about ten times the footer's size, while the file
    is read, and that grows with the rows.
    """

    def __init__(
        self, path: Path, whole: Any = None, split: Any = None, dictionary: list[str] | None = None
    ) -> None:
        self.path, self._whole, self._split = path, whole, split
        #: columns read as dictionaries (pyarrow reads text columns only so, others as they are)
        self._dictionary = dictionary or None
        if split is not None:
            self._rows = list(split.row_group_rows)
        else:
            metadata = whole.metadata
            self._rows = [metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)]
        self.num_rows, self.count = sum(self._rows), len(self._rows)

    @classmethod
    def open(cls, path: Path, dictionary: list[str] | None = None) -> _RowGroups:
        import pyarrow.parquet as pq

        from modelmon.reading.parquet_footer import split_footer

        split = split_footer(path)
        if split is not None:
            return cls(path, split=split, dictionary=dictionary)
        # no pre-buffering: on a local disk it is several times slower (its reads wait on a pool
        # of I/O threads) and it holds a run's raw bytes beside their decoded values
        whole = pq.ParquetFile(path, pre_buffer=False, read_dictionary=dictionary or None)
        return cls(path, whole=whole, dictionary=dictionary)

    @property
    def schema_arrow(self) -> Any:
        if self._split is None:
            return self._whole.schema_arrow
        return self._file([])[0].schema_arrow

    def column_bytes(self) -> list[int]:
        """The uncompressed bytes of each column over all row groups."""
        parts: Iterable[Any] = [self._whole.metadata] if self._split is None else ()
        if self._split is not None:  # a few row groups' metadata at a time
            ranges = (
                range(start, min(start + _SIZED_GROUPS, self.count))
                for start in range(0, self.count, _SIZED_GROUPS)
            )
            parts = (self._split.metadata(groups) for groups in ranges)
        totals: list[int] = []
        for metadata in parts:
            for g in range(metadata.num_row_groups):
                group = metadata.row_group(g)
                sizes = [group.column(i).total_uncompressed_size for i in range(group.num_columns)]
                totals = sizes if not totals else [a + b for a, b in zip(totals, sizes, strict=True)]
        return totals

    def rows(self, group: int) -> int:
        return self._rows[group]

    def _file(self, groups: list[int]) -> tuple[Any, list[int]]:
        """A pyarrow file to read ``groups`` from, and their numbers in it."""
        if self._split is None:
            return self._whole, groups
        import pyarrow.parquet as pq

        metadata = self._split.metadata(groups)
        part = pq.ParquetFile(
            self.path, metadata=metadata, pre_buffer=False, read_dictionary=self._dictionary
        )
        return part, list(range(len(groups)))

    def read(self, groups: list[int], columns: list[str]) -> Any:
        file, numbers = self._file(groups)
        return file.read_row_groups(numbers, columns=columns)

    def batches(self, group: int, batch_size: int, columns: list[str]) -> Iterator[Any]:
        file, numbers = self._file([group])
        return iter(file.iter_batches(batch_size=batch_size, row_groups=numbers, columns=columns))


def _parquet_chunks(
    parquet: _RowGroups, row_groups: list[int], columns: list[str], chunk_rows: int
) -> Iterator[pd.DataFrame]:
    """Whole row groups, several at a time while they fit in ``chunk_rows``; a larger one in batches.

    Reading whole row groups is several times faster than batches that straddle them.
    """
    pending: list[int] = []
    pending_rows = 0
    for group in [*row_groups, None]:
        size = parquet.rows(group) if group is not None else 0
        if pending and (group is None or pending_rows + size > chunk_rows):
            table = parquet.read(pending, columns)
            # one pandas block per column: numbers are not copied into one 2-D block
            yield table.to_pandas(split_blocks=True, self_destruct=True)
            del table
            pending, pending_rows = [], 0
        if group is None:
            break
        if size > chunk_rows:
            for batch in parquet.batches(group, chunk_rows, columns):
                yield batch.to_pandas(split_blocks=True)
            continue
        pending.append(group)
        pending_rows += size


_Item = TypeVar("_Item")
_END = object()


def read_ahead(items: Iterable[_Item]) -> Iterator[_Item]:
    """The items of ``items``, the next one read on a thread while the caller works on this one.

    Decoding parquet or CSV releases the GIL, so reading the next chunk overlaps the work on this
    one; at most one chunk more than without it is in memory. Errors are raised where they would be.

    >>> list(read_ahead(iter(range(3))))
    [0, 1, 2]
    """
    iterator = iter(items)
    with ThreadPoolExecutor(1, thread_name_prefix="modelmon-read") as pool:
        pending = pool.submit(next, iterator, _END)
        while True:
            item = pending.result()
            if item is _END:
                return
            pending = pool.submit(next, iterator, _END)
            yield item  # type: ignore[misc]
            del item


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


def parquet_partitions(
    path: PathLike,
    columns: Iterable[str] | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    partition_rows: int | None = None,
) -> list[tuple[list[int], int]]:
    """The file's row groups in runs of about ``partition_rows`` rows (default: one chunk of the
    budget): ``(row groups, first row)``.

    Each run is a partition a worker reads and profiles on its own; ``first row`` is the position
    of its first row in the whole file, so that what workers keep of each row is what one process
    would keep.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "rows.parquet"
    >>> pd.DataFrame({"a": range(10)}).to_parquet(path, row_group_size=3)
    >>> parquet_partitions(path, memory_budget=1 << 20)
    [([0, 1, 2, 3], 0)]
    """
    file = Path(path)
    if file_format(file) != "parquet":
        raise InputError(
            f"{file}: only parquet files are split into partitions; convert CSV to parquet first"
        )
    limit = partition_rows or chunk_rows_for(row_bytes(file, columns), memory_budget)
    parquet = _RowGroups.open(file)
    partitions: list[tuple[list[int], int]] = []
    groups: list[int] = []
    first = rows = 0
    for group in range(parquet.count):
        size = parquet.rows(group)
        if groups and rows + size > limit:
            partitions.append((groups, first))
            first, groups, rows = first + rows, [], 0
        groups.append(group)
        rows += size
    if groups or not partitions:
        partitions.append((groups, first))
    return partitions


def read_row_groups(
    path: PathLike,
    row_groups: list[int],
    columns: Iterable[str] | None = None,
    chunk_rows: int | None = None,
    *,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> Iterator[pd.DataFrame]:
    """Chunks of the given row groups of a parquet file, as :func:`read_frames` gives them."""
    file = Path(path)
    present = file_columns(file)
    asked = None if columns is None else set(columns)
    wanted = [name for name in present if asked is None or name in asked]
    if chunk_rows is None:
        chunk_rows = chunk_rows_for(row_bytes(file, wanted), memory_budget)
    try:
        parquet = _RowGroups.open(file)
        if not wanted:
            yield pd.DataFrame(index=pd.RangeIndex(sum(parquet.rows(group) for group in row_groups)))
            return
        yield from _parquet_chunks(parquet, row_groups, wanted, chunk_rows)
    except Exception as exc:
        raise InputError(f"{file}: cannot read row groups {row_groups} as parquet: {exc}") from exc
