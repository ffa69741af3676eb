"""The ``modelmon`` command's own process tuning, and nothing else's.

A ``modelmon report`` process exists only to read two files and write one report, so it tunes
itself in three ways a library must never tune the process that imports it:

- it asks the kernel to start reading both files (``posix_fadvise(WILLNEED)``) while Python
  imports numpy and pandas (:func:`warm`);
- it keeps the memory it frees for its next chunk and its next column: pyarrow allocates from the
  system allocator and glibc keeps :data:`HEAP_PAD` free at the top of each heap
  (:func:`reuse_freed_memory`);
- once its report is written and closed it ends at once (``os._exit``) instead of freeing a large
  report's arrays one by one (:func:`done`, :func:`end`).

Each is applied only in a process started by the ``modelmon`` script (:func:`own`, called by
:func:`modelmon.cli.main`): the click commands run in-process (``CliRunner``, another click
application) leave their process as it was, like every other part of modelmon
(``tests/cli/test_process.py::test_using_the_library_leaves_the_process_as_it_was``).

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "rows.csv"
>>> _ = path.write_text("a,b\\n1,2\\n")
>>> prepare_report([path], head_bytes=1 << 20)  # not the command's own process: nothing changes
False
>>> warm(path, head_bytes=1 << 20) in (True, False)  # False where the system has no such advice
True
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

__all__ = ["FOOTER_BYTES", "HEAP_PAD", "done", "end", "own", "prepare_report", "reuse_freed_memory", "warm"]

#: bytes asked for at the end of a file, where parquet keeps its footer (read before any row)
FOOTER_BYTES = 8 << 20
#: free memory glibc keeps at the top of each heap when it gives memory back (``M_TOP_PAD``)
HEAP_PAD = 64 << 20
_M_TOP_PAD = -2  # glibc's <malloc.h>

_OWNED = False  # this process was started by the ``modelmon`` script
_DONE = False  # its command has written and closed everything it made


def own() -> None:
    """Say that this process is the ``modelmon`` command's own (the script's entry point calls it)."""
    global _OWNED
    _OWNED = True


def prepare_report(paths: Iterable[str | os.PathLike[str]], head_bytes: int) -> bool:
    """In the command's own process, warm ``paths`` and keep freed memory for reuse; whether it did.

    Call it before numpy and pandas are imported, so the disk reads while they import."""
    if not _OWNED:
        return False
    for path in paths:
        warm(path, head_bytes)
    reuse_freed_memory()
    return True


def warm(path: str | os.PathLike[str], head_bytes: int) -> bool:
    """Have the kernel start reading the first ``head_bytes`` of ``path`` and its last
    :data:`FOOTER_BYTES`; ``False`` when it could not be asked (no such advice on this system, or
    no such file: the reader that follows reports that).

    Only the part read first is asked for, so a file larger than memory does not push everything
    else out of the page cache; a file already cached costs nothing."""
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


def reuse_freed_memory() -> None:
    """Keep freed memory for reuse for the rest of this process: pyarrow allocates from the system
    allocator (``ARROW_DEFAULT_MEMORY_POOL``, when set, wins) and glibc keeps :data:`HEAP_PAD` free
    at the top of each heap (``MALLOC_TOP_PAD_``, when set, wins).

    A file's chunks are read and freed one after another, and each column's lookup makes a few
    temporaries of half a megabyte. pyarrow's default (mimalloc) returned a freed chunk's memory to
    the operating system within milliseconds; glibc, by default, gives back the top of a heap as
    soon as more than twice its largest recent block is free there. Either way the next chunk or
    temporary took page faults to get the memory back: the heap pad halved a 100k x 200 drift
    report's page faults and took 0.16 s off its system time (``python -m bench.versions``). The
    peak is unchanged: the memory is reused, not added to.
    """
    if "MALLOC_TOP_PAD_" not in os.environ:
        _pad_heaps(HEAP_PAD)
    if "ARROW_DEFAULT_MEMORY_POOL" in os.environ:
        return
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())


def _pad_heaps(size: int) -> bool:
    """``mallopt(M_TOP_PAD, size)`` when the C library is glibc; whether it was set."""
    import ctypes
    import platform

    if platform.libc_ver()[0] != "glibc":
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    return mallopt is not None and bool(mallopt(_M_TOP_PAD, size))


def done() -> None:
    """Say that this command has written and closed everything it made: when it succeeds, the
    ``modelmon`` process then ends without tearing down the interpreter (:func:`end`).

    Freeing a large report's arrays, modules and threads one by one took 0.08 s of a 1.5 s
    100k x 200 drift report (``python -m bench.versions``); the operating system frees them at
    once. A command that starts servers, clusters or flows, whose own exit hooks must run, does
    not call this.
    """
    global _DONE
    _DONE = True


def end(finished: SystemExit) -> None:
    """End the command's own process at once if its command succeeded and said :func:`done`;
    otherwise return, and the caller lets ``finished`` end it the usual way."""
    if not (_OWNED and _DONE and finished.code in (0, None)):
        return
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
