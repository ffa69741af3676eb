"""Writing accepted events and targets to the store, off the request path, without ever dying.

Requests reserve room in the backlog (:meth:`Persister.reserve`: events accepted and not yet in the
store, bounded; beyond the bound the service answers 503) and, once their batch is durable in the
journal, queue it (:meth:`Persister.enqueue`). One background thread writes the queue in batches:

- a store failure (:class:`~modelmon.errors.StoreError`: locked, unreachable, read-only, full) is the
  store's fault: the batch is kept and retried with backoff, so nothing is lost and the backlog
  grows until the service answers 503;
- any other exception is an item's fault: the batch is split until the items that fail alone are
  found; each is written with its error to the dead-letter file and counted, and the rest stored.

Metric-history points go through their own small thread and bounded queue (best effort, counted
when dropped), so a locked store never holds up a window recompute.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelmon.errors import StoreError
from modelmon.store.base import Store

__all__ = ["HistoryWriter", "Persister"]

log = logging.getLogger("modelmon.service")


@dataclass
class _Batch:
    kind: str
    model: str
    items: list[Any]
    segment: int
    queued_at: float


class Persister:
    """Background batch writer of events and targets to a :class:`~modelmon.store.base.Store`."""

    def __init__(
        self,
        store: Store,
        max_backlog: int = 200_000,
        dead_letter: str | Path | None = None,
        settled: Callable[[int, int], None] | None = None,
        max_batch: int = 5000,
        max_retry_delay: float = 2.0,
    ) -> None:
        self.store = store
        self.max_backlog = max_backlog
        self.dead_letter = None if dead_letter is None else Path(dead_letter)
        self.max_batch = max_batch
        self.max_retry_delay = max_retry_delay
        self._settled = settled or (lambda segment, count: None)
        # counts are updated by request threads and the writer thread: under a lock, or updates get lost
        self._lock = threading.Condition()
        self._queue: deque[_Batch] = deque()
        self._backlog = 0
        self._busy_since: float | None = None
        self.written = 0
        self.dead_lettered = 0
        self.failures = 0
        self.failing_since: float | None = None
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="modelmon-persist", daemon=True)
        self._thread.start()

    # -- the request side ------------------------------------------------------------------------

    def reserve(self, count: int) -> bool:
        """Room for ``count`` more items in the backlog (always for a first batch)? Taken when True."""
        with self._lock:
            if self._backlog and self._backlog + count > self.max_backlog:
                return False
            self._backlog += count
            return True

    def release(self, count: int) -> None:
        """Give back room reserved for items that were not accepted after all."""
        with self._lock:
            self._backlog -= count

    def enqueue(self, kind: str, model: str, items: list[Any], segment: int = 0) -> None:
        """Queue reserved, durable items for the store (``segment``: the journal segment holding them)."""
        if not items:
            return
        with self._lock:
            self._queue.append(_Batch(kind, model, list(items), segment, time.monotonic()))
            self._lock.notify()

    def events(self, model: str, documents: list[Mapping[str, Any]]) -> None:
        """Reserve and queue events at once (no journal; for use without the HTTP service)."""
        self.reserve(len(documents))
        self.enqueue("events", model, list(documents))

    def targets(self, model: str, pairs: list[tuple[str, Any]]) -> None:
        self.reserve(len(pairs))
        self.enqueue("targets", model, list(pairs))

    @property
    def backlog(self) -> int:
        """Items accepted and not yet stored or dead-lettered."""
        return self._backlog

    @property
    def lag_seconds(self) -> float:
        """How long the oldest item not yet stored has waited (0 when none waits)."""
        with self._lock:
            oldest = self._busy_since if self._busy_since is not None else None
            if self._queue:
                head = self._queue[0].queued_at
                oldest = head if oldest is None else min(oldest, head)
        return 0.0 if oldest is None else time.monotonic() - oldest

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- the writer thread -----------------------------------------------------------------------

    def _take(self) -> list[_Batch]:
        with self._lock:
            while not self._queue and not self._stop.is_set():
                self._lock.wait(0.5)
            taken: list[_Batch] = []
            count = 0
            while self._queue and count < self.max_batch:
                taken.append(self._queue.popleft())
                count += len(taken[-1].items)
            if taken:
                self._busy_since = taken[0].queued_at
            return taken

    def _run(self) -> None:
        while not (self._stop.is_set() and (not self._queue or self.failing_since is not None)):
            taken = self._take()
            if not taken:
                continue
            try:
                self._write(taken)
            except Exception:  # a bug here must not stop the writer: the batches go back in front
                log.exception("the store writer failed on %d batches; retrying them", len(taken))
                with self._lock:
                    self._queue.extendleft(reversed(taken))
                self._stop.wait(0.5)
            finally:
                self._busy_since = None

    def _write(self, taken: list[_Batch]) -> None:
        groups: dict[tuple[str, str], list[_Batch]] = {}
        for batch in taken:
            groups.setdefault((batch.kind, batch.model), []).append(batch)
        # events before targets, so that a target finds its event in the same round
        for (kind, model), batches in sorted(groups.items(), key=lambda pair: pair[0][0] != "events"):
            items = [item for batch in batches for item in batch.items]
            if not self._write_until_stored(kind, model, items):
                with self._lock:  # stopping while the store refuses: the journal keeps them
                    self._queue.extendleft(reversed(batches))
                return
            for batch in batches:
                self._settled(batch.segment, len(batch.items))
            with self._lock:
                self._backlog -= len(items)

    def _write_until_stored(self, kind: str, model: str, items: list[Any]) -> bool:
        delay = 0.05
        while True:
            try:
                self._isolate(kind, model, items)
            except StoreError as exc:
                self.failures += 1
                self.last_error = str(exc)
                if self.failing_since is None:
                    self.failing_since = time.monotonic()
                    log.error("writing %d %s of %s to the store failed: %s", len(items), kind, model, exc)
                if self._stop.wait(delay):
                    return False
                delay = min(delay * 2, self.max_retry_delay)
                continue
            if self.failing_since is not None:
                log.warning("the store takes writes again")
            self.failing_since = None
            return True

    def _isolate(self, kind: str, model: str, items: list[Any]) -> None:
        """Store ``items``; those failing alone with anything but a StoreError go to the dead letters."""
        try:
            if kind == "events":
                self.store.events.add_events(model, items)
            else:
                self.store.events.upsert_targets(model, items)
            self.written += len(items)
        except StoreError:
            raise
        except Exception as exc:
            if len(items) == 1:
                self._bury(kind, model, items[0], exc)
                return
            half = len(items) // 2
            self._isolate(kind, model, items[:half])
            self._isolate(kind, model, items[half:])

    def _bury(self, kind: str, model: str, item: Any, error: Exception) -> None:
        self.dead_lettered += 1
        message = f"{type(error).__name__}: {error}"
        log.error("a %s item of %s cannot be stored and goes to the dead letters: %s", kind, model, message)
        if self.dead_letter is None:
            return
        record = {"at": datetime.now(UTC).isoformat(), "kind": kind, "model": model, "error": message}
        try:
            line = json.dumps({**record, "item": item}, default=str)
        except (TypeError, ValueError, RecursionError):
            try:
                text = repr(item)[:100_000]
            except RecursionError:
                text = f"<a {type(item).__name__} nested too deep to write out>"
            line = json.dumps({**record, "item_repr": text})
        try:
            self.dead_letter.parent.mkdir(parents=True, exist_ok=True)
            with self.dead_letter.open("a", encoding="utf-8") as file:
                file.write(line + "\n")
        except OSError as exc:
            log.error("cannot write the dead-letter file %s: %s", self.dead_letter, exc)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is stored (or dead-lettered)."""
        deadline = time.monotonic() + timeout
        while self._backlog > 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        return self._backlog <= 0

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued while the store takes it (up to ``timeout``), then stop."""
        self.flush(timeout)
        self._stop.set()
        with self._lock:
            self._lock.notify()
        self._thread.join(timeout)


class HistoryWriter:
    """Appends metric-history points in a thread; at most ``max_queue`` wait (the oldest are dropped)."""

    def __init__(self, store: Store, max_queue: int = 1000) -> None:
        self.store = store
        self._queue: deque[tuple[str, datetime, dict[str, float]]] = deque(maxlen=max_queue)
        self._ready = threading.Event()
        self._stop = threading.Event()
        self.dropped = 0
        self.failures = 0
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="modelmon-history", daemon=True)
        self._thread.start()

    def append(self, model: str, timestamp: datetime, values: dict[str, float]) -> None:
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append((model, timestamp, values))
        self._ready.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._queue:
                self._ready.wait(0.5)
                self._ready.clear()
                continue
            self._busy = True
            model, timestamp, values = self._queue.popleft()
            try:
                self.store.metrics.append(model, timestamp, values)
            except Exception as exc:  # the history is best effort: the live result stands, counted
                self.failures += 1
                self.dropped += 1
                log.error("could not append metric history of %s: %s", model, exc)
            finally:
                self._busy = False

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the points appended so far are written."""
        deadline = time.monotonic() + timeout
        while (self._queue or self._busy) and time.monotonic() < deadline:
            time.sleep(0.01)
        return not (self._queue or self._busy)

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._ready.set()
        self._thread.join(timeout)
