"""Writing events and targets to the store off the request path.

Requests put their documents on a queue; one background thread writes them in batches, so a slow
or briefly unavailable store never delays an answer. When the store fails the batch is kept and
retried with backoff (a batch the store refuses as invalid is dropped and counted, as retrying
cannot help); when the queue is full, the new documents are dropped and counted.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from modelmon.errors import InputError, ModelmonError
from modelmon.store.base import Store

__all__ = ["Persister"]

log = logging.getLogger("modelmon.service")


class Persister:
    """Background batch writer of (kind, model, items) to a :class:`~modelmon.store.base.Store`."""

    def __init__(
        self, store: Store, max_batch: int = 5000, max_queue: int = 200_000, interval: float = 0.2
    ) -> None:
        self.store = store
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.interval = interval
        self._queue: queue.Queue[tuple[str, str, list[Any]]] = queue.Queue()
        # counts are updated by the request threads and the writer thread: under a lock, or updates get lost
        self._count_lock = threading.Lock()
        self._queued = 0
        self.written = 0
        self.dropped = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="modelmon-persist", daemon=True)
        self._thread.start()

    def events(self, model: str, documents: Sequence[Mapping[str, Any]]) -> None:
        self._put("events", model, list(documents))

    def targets(self, model: str, pairs: list[tuple[str, Any]]) -> None:
        self._put("targets", model, list(pairs))

    def _put(self, kind: str, model: str, items: list[Any]) -> None:
        if not items:
            return
        with self._count_lock:
            full = self._queued + len(items) > self.max_queue
            if full:
                self.dropped += len(items)
            else:
                self._queued += len(items)
        if full:
            log.warning("store queue full: dropped %d %s of %s", len(items), kind, model)
            return
        self._queue.put((kind, model, items))

    def _drain(self) -> dict[tuple[str, str], list[Any]]:
        grouped: dict[tuple[str, str], list[Any]] = {}
        taken = 0
        while taken < self.max_batch:
            try:
                kind, model, items = self._queue.get_nowait()
            except queue.Empty:
                break
            grouped.setdefault((kind, model), []).extend(items)
            taken += len(items)
        return grouped

    def _write(self, grouped: dict[tuple[str, str], list[Any]]) -> None:
        # events before targets, so that a target finds its event in the same round
        for (kind, model), items in sorted(grouped.items(), key=lambda pair: pair[0][0] != "events"):
            delay = 0.1
            while True:
                try:
                    if kind == "events":
                        self.store.events.add_events(model, items)
                    else:
                        self.store.events.upsert_targets(model, items)
                    self.written += len(items)
                    break
                except ModelmonError as exc:
                    self.failures += 1
                    log.error("writing %d %s of %s to the store failed: %s", len(items), kind, model, exc)
                    # bad data fails again on every retry and would hold up all later writes
                    if isinstance(exc, InputError) or self._stop.is_set():
                        with self._count_lock:
                            self.dropped += len(items)
                        break
                    time.sleep(delay)
                    delay = min(delay * 2, 5.0)
            with self._count_lock:
                self._queued -= len(items)

    def _run(self) -> None:
        while not self._stop.is_set():
            grouped = self._drain()
            if grouped:
                self._write(grouped)
            else:
                self._stop.wait(self.interval)
        self._write(self._drain_all())

    def _drain_all(self) -> dict[tuple[str, str], list[Any]]:
        grouped: dict[tuple[str, str], list[Any]] = {}
        while True:
            more = self._drain()
            if not more:
                return grouped
            for key, items in more.items():
                grouped.setdefault(key, []).extend(items)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is written."""
        deadline = time.monotonic() + timeout
        while self._queued > 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        return self._queued <= 0

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
