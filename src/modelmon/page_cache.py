"""Asking the operating system to read a data file ahead, while the command is still importing.

``modelmon report`` spends its first half second importing numpy and pandas on one core. A file
that is not in the page cache yet (just copied, or pushed out by other work) would then be read
from disk chunk by chunk as the report goes; :func:`warm` tells the kernel to start reading it at
once (``posix_fadvise(WILLNEED)``), so the disk works while Python imports. It holds no memory of
the process and costs nothing when the file is cached already. Only the part read first is asked
for: the head up to ``head_bytes`` and a parquet file's footer at its end, so a file larger than
memory does not push everything else out of the cache.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "rows.csv"
>>> _ = path.write_text("a,b\\n1,2\\n")
>>> warm(path, head_bytes=1 << 20) in (True, False)  # False where the system has no such advice
True
"""

from __future__ import annotations

import os

__all__ = ["FOOTER_BYTES", "warm"]

#: bytes asked for at the end of a file, where parquet keeps its footer (read before any row)
FOOTER_BYTES = 8 << 20


def warm(path: str | os.PathLike[str], head_bytes: int) -> bool:
    """Have the kernel start reading the first ``head_bytes`` of ``path`` and its last
    :data:`FOOTER_BYTES`; ``False`` when it could not be asked (no such advice on this system, or
    no such file: the reader that follows reports that)."""
    advise = getattr(os, "posix_fadvise", None)
    if advise is None:  # macOS, Windows
        return False
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:  # a missing or unreadable file is the reader's error to report, with its name
        return False
    try:
        size = os.fstat(descriptor).st_size
        if size <= head_bytes + FOOTER_BYTES:
            advise(descriptor, 0, 0, os.POSIX_FADV_WILLNEED)
        else:
            advise(descriptor, 0, head_bytes, os.POSIX_FADV_WILLNEED)
            advise(descriptor, size - FOOTER_BYTES, FOOTER_BYTES, os.POSIX_FADV_WILLNEED)
    except OSError:  # advice only (a pipe or a special file takes none): reading works without it
        return False
    finally:
        os.close(descriptor)
    return True
