"""The ingest journal: accepted batches on disk before they are answered, until the store has them.

Each accepted batch is one record ``{"kind", "model", "items"}`` with its checksum (framed as in
:mod:`modelmon.service.journal_records`) appended to the current segment file
(``segment-000001.jsonl``, ...). One thread writes whatever requests queued meanwhile with a
single ``write`` and, with ``fsync="group"``, one ``fdatasync`` (group commit), then resolves their
futures: a request is answered only after that. With ``fsync="interval"`` the write reaches the
operating system before the answer (it survives the service being killed) and is fsynced every
``sync_interval`` seconds (a power cut may lose that much).

The store writer reports what it stored with :meth:`Journal.settled`; a segment that is full and
entirely stored is deleted. Segments left by a previous run are read back by :meth:`Journal.recover`
at start and stored again; the stores skip ids they already have, so a replay never makes a
second row. A damaged record is skipped and counted (:attr:`Journal.damaged`) and its bytes kept in
the folder's ``quarantine/``, while the records around it are replayed.

>>> import tempfile
>>> folder = tempfile.TemporaryDirectory()
>>> journal = Journal(folder.name)
>>> journal.start().append(entry_line("events", "m", [{"id": "a"}]), 1).result(timeout=5)
1
>>> journal.close()
>>> [(entry.kind, entry.items) for entry in Journal(folder.name).recover()]
[('events', [{'id': 'a'}])]
>>> folder.cleanup()
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from modelmon.errors import JournalError
from modelmon.service.journal_records import frame, quarantine_records, read_segment, segment_files

__all__ = ["Journal", "JournalEntry", "entry_line"]

log = logging.getLogger("modelmon.service")


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # integers beyond 64 bits: the standard library writes them
        return json.dumps(value, default=_default, separators=(",", ":")).encode()


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be journaled")


@dataclass
class JournalEntry:
    """One batch read back from a segment."""

    segment: int
    kind: str
    model: str
    items: list[Any]


#: items of a batch written as JSON in one call: a larger batch is written in slices, so that no one
#: call holds the interpreter (and the service's event loop) for long
ITEMS_PER_DUMP = 10_000


def entry_line(kind: str, model: str, items: list[Any]) -> bytes:
    """The journal record of a batch; ``TypeError``/``ValueError`` when an item cannot be written as JSON."""
    if len(items) <= ITEMS_PER_DUMP:
        return frame(_dumps({"kind": kind, "model": model, "items": items}))
    slices = b",".join(
        _dumps(items[i : i + ITEMS_PER_DUMP])[1:-1] for i in range(0, len(items), ITEMS_PER_DUMP)
    )
    return frame(b'{"kind":%s,"model":%s,"items":[%s]}' % (_dumps(kind), _dumps(model), slices))


class Journal:
    """Append-only segments of accepted batches in ``folder``; ``folder=None`` keeps nothing on disk."""

    def __init__(
        self,
        folder: str | os.PathLike[str] | None,
        fsync: str = "group",
        segment_bytes: int = 32 * 2**20,
        sync_interval: float = 0.05,
    ) -> None:
        if fsync not in ("group", "interval"):
            raise ValueError(f"fsync must be 'group' or 'interval', got {fsync!r}")
        self.folder = None if folder is None else Path(folder)
        self.fsync = fsync
        self.segment_bytes = segment_bytes
        self.sync_interval = sync_interval
        self._reset()

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._queue: list[tuple[Future[int], bytes, int]] = []
        self._pending: dict[int, int] = {}  # segment -> items written there and not yet stored
        self._segment = 0
        self._fd: int | None = None
        self._size = 0
        self._dirty = False
        self._closing = False
        self.written = 0
        self.failures = 0
        self.last_error: str | None = None
        self.last_sync_seconds = 0.0
        #: records found damaged at start (skipped, their bytes in the quarantine)
        self.damaged = 0
        #: files of the folder that were not segments, moved to the quarantine at start
        self.quarantined_files = 0
        self._thread = threading.Thread(target=self._run, name="modelmon-journal", daemon=True)

    def _path(self, segment: int) -> Path:
        assert self.folder is not None
        return self.folder / f"segment-{segment:06d}.jsonl"

    def recover(self) -> list[JournalEntry]:
        """The batches of segments left by an earlier run (oldest first); call before :meth:`start`."""
        if self.folder is None or not self.folder.is_dir():
            return []
        entries: list[JournalEntry] = []
        segments, self.quarantined_files = segment_files(self.folder)
        for segment, path in segments:
            self._segment = max(self._segment, segment)
            found = read_segment(path.read_bytes())
            if found.damaged:
                self.damaged += len(found.damaged)
                quarantine_records(self.folder, path, found.damaged)
            batches = [JournalEntry(segment, d["kind"], d["model"], d["items"]) for d in found.entries]
            entries.extend(batches)
            count = sum(len(entry.items) for entry in batches)
            if count:
                self._pending[segment] = count
            else:
                path.unlink()
        return entries

    def start(self) -> Journal:
        """Open a new segment and start the writing thread."""
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._open_next()
        self._thread.start()
        return self

    def _open_next(self) -> None:
        with self._cond:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
                self._drop_if_settled(self._segment)
            self._segment += 1
            self._fd = os.open(self._path(self._segment), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._size = 0
            self._pending.setdefault(self._segment, 0)

    def append(self, line: bytes, count: int) -> Future[int]:
        """Queue one batch line (of ``count`` items); the future gives its segment once it is durable.

        Cancel the future to withdraw a batch that has not started to be written.
        """
        future: Future[int] = Future()
        if self.folder is None:
            future.set_running_or_notify_cancel()
            future.set_result(0)
            return future
        with self._cond:
            if self._closing:
                raise JournalError("the journal is closed")
            self._queue.append((future, line, count))
            self._cond.notify()
        return future

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._queue and not self._closing:
                    self._cond.wait(self.sync_interval if self._dirty else None)
                batch, self._queue = self._queue, []
                closing = self._closing
            live = [item for item in batch if item[0].set_running_or_notify_cancel()]
            if live:
                self._write(live)
            elif self._dirty:
                self._sync()
            if closing and not batch:
                break
        if self._fd is not None:
            self._sync()
            with self._cond:
                os.close(self._fd)
                self._fd = None
                self._drop_if_settled(self._segment)

    def _write(self, batch: list[tuple[Future[int], bytes, int]]) -> None:
        assert self._fd is not None
        data = b"".join(line for _, line, _ in batch)
        started = self._size
        try:
            if self._size and self._size + len(data) > self.segment_bytes:
                self._open_next()
                started = 0
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            self._size += len(data)
            if self.fsync == "group":
                self._sync(raise_errors=True)
            else:
                self._dirty = True
        except OSError as exc:
            self.failures += 1
            self.last_error = f"cannot write the journal in {self.folder}: {exc}"
            log.error("%s", self.last_error)
            self._truncate(started)
            for future, _, _ in batch:
                future.set_exception(JournalError(self.last_error))
            return
        self.last_error = None
        segment = self._segment
        with self._cond:
            self._pending[segment] = self._pending.get(segment, 0) + sum(count for _, _, count in batch)
        self.written += len(batch)
        for future, _, _ in batch:
            future.set_result(segment)

    def _truncate(self, size: int) -> None:
        # a batch that was refused must not come back at the next start
        try:
            if self._fd is not None:
                os.ftruncate(self._fd, size)
                self._size = size
        except OSError as exc:
            log.error("cannot cut the refused batch off the journal: %s", exc)

    def _sync(self, raise_errors: bool = False) -> None:
        if self._fd is None:
            return
        started = time.perf_counter()
        try:
            os.fdatasync(self._fd)
        except OSError:
            if raise_errors:
                raise
            log.exception("cannot fsync the journal in %s", self.folder)
            return
        self._dirty = False
        self.last_sync_seconds = time.perf_counter() - started

    def settled(self, segment: int, count: int) -> None:
        """``count`` items of ``segment`` are in the store (or dead-lettered): a segment all settled goes."""
        if self.folder is None or count == 0:
            return
        with self._cond:
            left = self._pending.get(segment, 0) - count
            self._pending[segment] = max(left, 0)
            if segment != self._segment:
                self._drop_if_settled(segment)

    def _drop_if_settled(self, segment: int) -> None:
        if self._pending.get(segment, 0) > 0:
            return
        self._pending.pop(segment, None)
        try:
            self._path(segment).unlink(missing_ok=True)
        except OSError as exc:
            log.error("cannot remove the stored journal segment %s: %s", self._path(segment), exc)

    @property
    def unsettled(self) -> int:
        """Items journaled and not yet in the store."""
        with self._cond:
            return sum(self._pending.values())

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop; segments not yet stored stay for the next start."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)
