"""Batches the monitoring service could not take yet, kept on disk until it answers again.

The spool is one JSON-lines file, one batch a line: ``{"kind": "events", "items": [...]}`` (or ``"targets"``).
Batches are replayed oldest first. The position of the oldest unsent line lives in a small side file
(``<spool>.offset``), so a restarted prediction service neither loses nor resends what was already sent.
The unsent part is bounded by ``max_bytes``: adding a batch that would go over drops the oldest batches and
:meth:`Spool.append` returns how many items it dropped. One process uses a spool at a time (an advisory lock
on ``<spool>.lock``); another process asking for the same file gets :class:`SpoolLockedError`.

>>> import pathlib, tempfile
>>> folder = tempfile.TemporaryDirectory()
>>> spool = Spool(pathlib.Path(folder.name) / "taxi.jsonl", max_bytes=1_000_000)
>>> spool.append("events", ['{"id": "a"}', '{"id": "b"}'])
0
>>> spool.append("targets", ['{"id": "a", "target": 7}'])
0
>>> spool.count
3
>>> spool.peek()
('events', [{'id': 'a'}, {'id': 'b'}])
>>> spool.pop()
2
>>> spool.peek(), spool.count
(('targets', [{'id': 'a', 'target': 7}]), 1)
>>> spool.close(); folder.cleanup()
"""

from __future__ import annotations

import json
import logging
import os
from collections import deque
from pathlib import Path
from typing import Any, NamedTuple

from modelmon.errors import SpoolLockedError

__all__ = ["Spool"]

logger = logging.getLogger("modelmon.client")


class _Batch(NamedTuple):
    start: int
    end: int
    size: int  # items in the batch


class Spool:
    """A bounded, persistent FIFO of batches (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str], max_bytes: int = 64 * 2**20) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be a positive number of bytes, got {max_bytes!r}")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._offset_path = self.path.with_name(self.path.name + ".offset")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock(self.path.with_name(self.path.name + ".lock"))
        self._batches: deque[_Batch] = deque()
        self._count = 0
        self._head = 0  # byte offset of the oldest unsent line; lines before it were sent
        self._end = 0
        self._load()

    @property
    def count(self) -> int:
        """Items (events and targets) waiting in the spool."""
        return self._count

    def __len__(self) -> int:
        return len(self._batches)

    def append(self, kind: str, items: list[str]) -> int:
        """Add one batch of JSON-encoded items; return how many older items were dropped to make room."""
        line = f'{{"kind": {json.dumps(kind)}, "items": [{", ".join(items)}]}}\n'.encode()
        if len(line) > self.max_bytes:
            return len(items)
        dropped = 0
        while self._batches and (self._end - self._head) + len(line) > self.max_bytes:
            dropped += self._forget_oldest()
        if not self._batches and self._end:
            self._clear()
        elif self._head > self.max_bytes // 2:
            self._compact()
        with open(self.path, "ab") as file:
            start = file.tell()
            try:
                file.write(line)
                file.flush()
            except OSError:
                file.truncate(start)  # a half-written line would corrupt the next one
                raise
        self._batches.append(_Batch(start, start + len(line), len(items)))
        self._end = start + len(line)
        self._count += len(items)
        if dropped:
            self._save_head()
        return dropped

    def peek(self) -> tuple[str, list[Any]]:
        """The oldest batch as ``(kind, items)``; ``IndexError`` when the spool is empty."""
        batch = self._batches[0]
        with open(self.path, "rb") as file:
            file.seek(batch.start)
            record = json.loads(file.read(batch.end - batch.start))
        return record["kind"], record["items"]

    def pop(self) -> int:
        """Forget the oldest batch (sent, or refused for good); return how many items it held."""
        count = self._forget_oldest()
        if self._batches:
            self._save_head()
        else:
            self._clear()
        return count

    def close(self) -> None:
        """Release the lock; the file stays for the next process to replay."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _forget_oldest(self) -> int:
        batch = self._batches.popleft()
        self._count -= batch.size
        self._head = self._batches[0].start if self._batches else self._end
        return batch.size

    def _load(self) -> None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        head = _read_int(self._offset_path)
        position = head if 0 <= head <= len(data) else 0
        for line in data[position:].splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break  # a line cut short by a crash: dropped below
            try:
                count = len(json.loads(line)["items"])
            except (ValueError, KeyError, TypeError):
                logger.warning(
                    "modelmon spool %s: skipping an unreadable line at byte %d", self.path, position
                )
            else:
                self._batches.append(_Batch(position, position + len(line), count))
                self._count += count
            position += len(line)
        self._end = position
        if not self._batches:
            self._clear()
            return
        self._head = self._batches[0].start
        if position < len(data):
            with open(self.path, "r+b") as file:
                file.truncate(position)

    def _save_head(self) -> None:
        temporary = self._offset_path.with_name(self._offset_path.name + ".tmp")
        temporary.write_text(str(self._head))
        os.replace(temporary, self._offset_path)

    def _clear(self) -> None:
        with open(self.path, "wb"):
            pass
        self._offset_path.unlink(missing_ok=True)
        self._head = self._end = 0

    def _compact(self) -> None:
        """Rewrite the file without the lines already sent, so it does not grow without end."""
        with open(self.path, "rb") as file:
            file.seek(self._head)
            live = file.read(self._end - self._head)
        # Forget the offset first: a crash in between then resends some batches instead of losing them.
        self._offset_path.unlink(missing_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_bytes(live)
        os.replace(temporary, self.path)
        shift = self._head
        self._batches = deque(_Batch(b.start - shift, b.end - shift, b.size) for b in self._batches)
        self._head, self._end = 0, self._end - shift


def _read_int(path: Path) -> int:
    try:
        return int(path.read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _lock(path: Path) -> int | None:
    try:
        import fcntl
    except ImportError:  # not POSIX: no advisory lock, one process per spool is up to the user
        return None
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        raise SpoolLockedError(f"spool {path.with_suffix('')} is in use by another process") from exc
    return fd
