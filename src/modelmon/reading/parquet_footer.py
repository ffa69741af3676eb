"""A parquet file's footer split by row group, giving the metadata of a few row groups at a time.

pyarrow parses a file's whole footer when it opens it and holds it while the file is open: the
metadata of every column chunk of every row group, about ten times its size on disk. A file of 3M
rows x 1,000 columns in 64 MiB row groups has a 36 MiB footer that takes 337 MiB once open, and it
grows with the rows. :class:`SplitFooter` reads the footer once and walks its Thrift encoding
only as deep as the list of row groups, keeping where each row group's metadata lies;
:meth:`SplitFooter.metadata` then builds a footer of only the row groups asked for, which pyarrow
opens the file with (column chunks are found by their offsets in the file, so nothing else
changes). Memory holds the footer's schema and key-value metadata and the metadata of the row
groups being read, whatever the rows.

The footer is Thrift's compact protocol (a ``FileMetaData`` struct): field 3 is the number of
rows, field 4 the list of ``RowGroup`` structs, whose field 3 is their number of rows.
"""

from __future__ import annotations

import functools
import os
import struct
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["LARGE_FOOTER", "SplitFooter", "footer_size", "split_footer"]

#: footers of more bytes than this are split by row group (pyarrow holds about ten times a
#: footer's size while the file is open)
LARGE_FOOTER = 1 << 20
_MAGIC = b"PAR1"
_STOP, _TRUE, _FALSE, _BYTE, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = 0, 1, 2, 3, 7, 8, 9, 10, 11, 12
_ROWS, _ROW_GROUPS = 3, 4


@functools.lru_cache(maxsize=2)
def _split(path: str, size: int, modified: int) -> SplitFooter:
    return SplitFooter(path)


def split_footer(path: str | os.PathLike[str]) -> SplitFooter | None:
    """The :class:`SplitFooter` of a file whose footer is larger than :data:`LARGE_FOOTER`, else
    ``None`` (also for a file that does not end as plain parquet: pyarrow then says what it is).

    The last two files' are kept (a report reads its reference twice), and found again while a
    file keeps its size and modification time.
    """
    try:
        if footer_size(path) <= LARGE_FOOTER:
            return None
        status = os.stat(path)
        return _split(os.path.abspath(path), status.st_size, status.st_mtime_ns)
    except (OSError, ValueError, IndexError):
        return None


def footer_size(path: str | os.PathLike[str]) -> int:
    """The bytes of a parquet file's footer, from its last eight bytes (``ValueError`` if it has none)."""
    with open(path, "rb") as file:
        file.seek(0, os.SEEK_END)
        if file.tell() < 12:
            raise ValueError("too short for a parquet file")
        file.seek(-8, os.SEEK_END)
        size, magic = struct.unpack("<I4s", file.read(8))
    if magic != _MAGIC:
        raise ValueError("no parquet footer at its end (an encrypted footer is read whole)")
    return int(size)


class SplitFooter:
    """The footer of a parquet file, split by row group.

    Only the footer's head and tail (its schema and key-value metadata) and where each row group's
    metadata lies in the file are kept; a row group's metadata is read from the file when a footer
    holding it is built.

    >>> import tempfile, pathlib
    >>> import pyarrow as pa, pyarrow.parquet as pq
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "rows.parquet"
    >>> pq.write_table(pa.table({"x": list(range(10))}), path, row_group_size=4)
    >>> footer = SplitFooter(path)
    >>> footer.row_group_rows, footer.num_rows
    ([4, 4, 2], 10)
    >>> part = pq.ParquetFile(path, metadata=footer.metadata([1, 2]))
    >>> part.metadata.num_rows, part.read_row_group(0).column("x").to_pylist()
    (6, [4, 5, 6, 7])
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.size = footer_size(path)
        with open(path, "rb") as file:
            file.seek(-8 - self.size, os.SEEK_END)
            self._offset = file.tell()  # where the footer starts in the file
            data = file.read(self.size)
        spans: dict[int, tuple[int, int]] = {}

        def on_top_field(field: int, kind: int, start: int, end: int) -> None:
            spans.setdefault(field, (start, end))

        _walk(data, 0, on_top_field)
        if _ROWS not in spans or _ROW_GROUPS not in spans:
            raise ValueError("the footer has no rows or no row groups")
        (rows_start, rows_end), (list_start, list_end) = spans[_ROWS], spans[_ROW_GROUPS]
        if rows_end > list_start:  # writers put fields in order; any other footer is read whole
            raise ValueError("the footer's number of rows comes after its row groups")
        # the head up to the number of rows, between it and the row groups, and after them
        self._head, self._middle = data[:rows_start], data[rows_end:list_start]
        self._tail = data[list_end:]
        count, kind, position = _list_header(data, list_start)
        if kind != _STRUCT:
            raise ValueError("the footer's row groups are not structs")
        self._groups: list[tuple[int, int]] = []
        self.row_group_rows: list[int] = []
        for _ in range(count):
            rows: list[int] = []

            def on_field(field: int, kind: int, start: int, end: int, rows: list[int] = rows) -> None:
                if field == _ROWS:
                    rows.append(_zigzag(_varint(data, start)[0]))

            end = _walk(data, position, on_field)
            if not rows:
                raise ValueError("a row group of the footer has no number of rows")
            self._groups.append((position, end))
            self.row_group_rows.append(rows[0])
            position = end
        self.num_rows = sum(self.row_group_rows)

    def serialized(self, groups: Sequence[int]) -> bytes:
        """The footer of a file holding only row groups ``groups`` (in that order)."""
        total = sum(self.row_group_rows[group] for group in groups)
        count = len(groups)
        # up to 14 row groups: the count is in the list's header byte, else a varint after it
        small = count < 15
        header = bytes([count << 4 | _STRUCT]) if small else bytes([0xF0 | _STRUCT]) + _encode_varint(count)
        pieces = [self._head, _encode_varint(total << 1), self._middle, header]
        with open(self.path, "rb") as file:
            for group in groups:
                start, end = self._groups[group]
                file.seek(self._offset + start)
                pieces.append(file.read(end - start))
        pieces.append(self._tail)
        return b"".join(pieces)

    def metadata(self, groups: Sequence[int]) -> Any:
        """pyarrow's ``FileMetaData`` of row groups ``groups``: open the file with it
        (``pq.ParquetFile(path, metadata=...)``) and its row groups are numbered from 0."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        footer = self.serialized(groups)
        return pq.read_metadata(pa.BufferReader(_MAGIC + footer + struct.pack("<I", len(footer)) + _MAGIC))


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, position


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _zigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def _list_header(data: bytes, position: int) -> tuple[int, int, int]:
    """Size, element type and the position of the first element of a list or set."""
    header = data[position]
    count, kind = header >> 4, header & 0x0F
    position += 1
    if count == 15:
        count, position = _varint(data, position)
    return count, kind, position


def _skip(data: bytes, position: int, kind: int) -> int:
    """The position after a value of type ``kind`` starting at ``position``."""
    if kind in (_TRUE, _FALSE):
        return position  # a struct field's boolean is in its field header
    if kind == _BYTE:
        return position + 1
    if kind in (4, 5, 6):  # zigzag varints: i16, i32, i64
        return _varint(data, position)[1]
    if kind == _DOUBLE:
        return position + 8
    if kind == _BINARY:
        size, position = _varint(data, position)
        return position + size
    if kind in (_LIST, _SET):
        count, element, position = _list_header(data, position)
        for _ in range(count):
            # a boolean element takes one byte of its own
            position = position + 1 if element in (_TRUE, _FALSE) else _skip(data, position, element)
        return position
    if kind == _MAP:
        count, position = _varint(data, position)
        if count:
            kinds = data[position]
            position += 1
            for _ in range(count):
                position = _skip(data, _skip(data, position, kinds >> 4), kinds & 0x0F)
        return position
    if kind == _STRUCT:
        return _skip_struct(data, position)
    raise ValueError(f"not a parquet footer: Thrift type {kind} at byte {position}")


def _skip_struct(data: bytes, position: int) -> int:
    """The position after the struct starting at ``position``: :func:`_walk` with no visitor,
    written out for the footer's hundreds of thousands of column chunks."""
    while True:
        header = data[position]
        position += 1
        if header == _STOP:
            return position
        kind = header & 0x0F
        if not header >> 4:  # a field id of its own: a varint
            while data[position] & 0x80:
                position += 1
            position += 1
        if kind in (4, 5, 6):  # i16, i32, i64: a varint
            while data[position] & 0x80:
                position += 1
            position += 1
        elif kind == _BINARY:
            size, position = _varint(data, position)
            position += size
        elif kind == _STRUCT:
            position = _skip_struct(data, position)
        elif kind > _FALSE:
            position = _skip(data, position, kind)


def _walk(data: bytes, position: int, visit: Callable[[int, int, int, int], None]) -> int:
    """Go through a struct's fields from ``position``, calling ``visit(field, type, start, end)`` with
    each value's span; the position after the struct."""
    field = 0
    while True:
        header = data[position]
        position += 1
        if header == _STOP:
            return position
        kind, delta = header & 0x0F, header >> 4
        if delta:
            field += delta
        else:
            value, position = _varint(data, position)
            field = _zigzag(value)
        start = position
        position = _skip(data, position, kind)
        visit(field, kind, start, position)
