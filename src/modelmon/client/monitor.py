"""The non-blocking event logger that a prediction service keeps for one model.

:meth:`Monitor.log` builds a dict and appends it to a bounded in-memory queue: it never blocks and never
raises, whatever happens to the monitoring service. A daemon thread wakes every ``flush_interval`` (or as
soon as ``batch_size`` events wait), sends what is queued in batches (:mod:`modelmon.client.sender`), and
spools them to disk while the service is unreachable. The counters ``sent``, ``rejected``, ``dropped``,
``spooled`` and ``queue_depth`` say where events went; :meth:`Monitor.flush` and :meth:`Monitor.close`
answer a :class:`~modelmon.client.delivery.Delivery`: what became of the items logged since the
previous answer, false when the service refused some, with the first reasons.

The spool file defaults to ``$MODELMON_SPOOL_DIR/<model>.jsonl`` (or a ``modelmon-spool`` folder in the
temporary directory); when another process holds it, this process uses ``<model>-<pid>.jsonl``.

>>> import pathlib, tempfile
>>> folder = tempfile.TemporaryDirectory()
>>> monitor = Monitor("http://127.0.0.1:9", "taxi-duration", spool_path=pathlib.Path(folder.name) / "s.jsonl")
>>> event_id = monitor.log({"trip_distance": 3.2, "PULocationID": "132"}, 17.5)
>>> len(event_id)
32
>>> delivery = monitor.close(timeout=5.0)   # nothing listens on port 9: the event waits in the spool
>>> bool(delivery), delivery.spooled, delivery.dropped
(True, 1, 0)
>>> monitor.sent, monitor.spooled, monitor.dropped
(0, 1, 0)
>>> folder.cleanup()
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import re
import tempfile
import threading
import time
import weakref
from collections import deque
from pathlib import Path
from typing import Any

from modelmon.client.delivery import MAX_REASONS, Delivery
from modelmon.client.sender import Sender
from modelmon.client.spool import Spool
from modelmon.client.timing import REQUEST_START
from modelmon.errors import SpoolLockedError

__all__ = ["Monitor", "default_spool_path"]

logger = logging.getLogger("modelmon.client")

_WARN_EVERY = 30.0  # seconds between two warnings about the same kind of problem


def default_spool_path(model: str) -> Path:
    """Where a model's spool lives unless told otherwise.

    >>> default_spool_path("taxi duration/v2").name
    'taxi_duration_v2.jsonl'
    """
    folder = os.environ.get("MODELMON_SPOOL_DIR") or os.path.join(tempfile.gettempdir(), "modelmon-spool")
    return Path(folder) / f"{re.sub(r'[^A-Za-z0-9._-]', '_', model)}.jsonl"


class Monitor:
    """Send a prediction service's events and late targets to the monitoring service, never blocking."""

    def __init__(
        self,
        url: str,
        model: str,
        token: str | None = None,
        *,
        batch_size: int = 256,
        flush_interval: float = 0.5,
        queue_size: int = 10_000,
        spool_path: str | os.PathLike[str] | None = None,
        spool_max_bytes: int = 64 * 2**20,
        timeout: float = 2.0,
        max_backoff: float = 30.0,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {url!r}")
        for name, value in [("batch_size", batch_size), ("queue_size", queue_size)]:
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name, number in [("flush_interval", flush_interval), ("timeout", timeout)]:
            if not number > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {number!r}")
        if not max_backoff > 0 or not spool_max_bytes > 0:
            raise ValueError(
                f"max_backoff and spool_max_bytes must be positive: {max_backoff!r}, {spool_max_bytes!r}"
            )
        self.url = url
        self.model = model
        self.token = token
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.queue_size = queue_size
        self.spool_path = spool_path
        self.spool_max_bytes = spool_max_bytes
        self.timeout = timeout
        self.max_backoff = max_backoff
        self._reset()
        self_ref = weakref.ref(self)
        self._exit_hook = functools.partial(_close_at_exit, self_ref)
        atexit.register(self._exit_hook)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=functools.partial(_restart_in_child, self_ref))

    def _reset(self) -> None:
        # A deque, not a queue.Queue: appending is atomic and ~20 times cheaper than Queue.put_nowait.
        self._items: deque[tuple[str, dict[str, Any]]] = deque()
        self._in_flight = 0  # items taken off the deque and not yet sent, spooled or dropped
        self._ready = threading.Event()  # wakes the sender early: a full batch, flush() or close()
        self._lock = threading.Lock()
        self._idle = threading.Condition()
        self._dropped = 0
        self._rejected = 0
        self._reasons: list[str] = []  # the first reasons of losses since the last flush() or close()
        self._reported = (0, 0, 0)  # sent, rejected, dropped when flush() or close() last answered
        self._warned: dict[str, tuple[float, int]] = {}
        self._closed = False
        self._stop = threading.Event()
        self._replay_now = threading.Event()
        self._close_deadline = float("inf")
        self._private_spool = False  # True for the per-process fallback, which nobody else will reopen
        self._spool = self._open_spool()
        self._sender = Sender(
            self.url,
            self.model,
            self.token,
            spool=self._spool,
            drop=self._drop,
            timeout=self.timeout,
            max_backoff=self.max_backoff,
        )
        self._thread = threading.Thread(target=self._run, name=f"modelmon-client-{self.model}", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"Monitor(url={self.url!r}, model={self.model!r})"

    # -- the hot path: build a dict, put it on the queue ------------------------------------------------

    def log(
        self,
        features: Any,
        prediction: Any,
        *,
        id: Any = None,
        probabilities: Any = None,
        target: Any = None,
        latency_ms: float | None = None,
        attributions: Any = None,
        metadata: Any = None,
        timestamp: Any = None,
    ) -> str:
        """Queue one prediction event and return its id (a new uuid4 hex unless ``id`` is given).

        ``timestamp`` defaults to now; ``latency_ms`` to the time since the in-flight request started when
        a middleware of this package serves it. Values are converted to JSON later, on the sender's thread.
        """
        event_id = ""
        try:
            event_id = _new_id() if id is None else str(id)
            event = {
                "id": event_id,
                "timestamp": time.time() if timestamp is None else timestamp,
                "features": dict(features),  # a copy: the caller may reuse its dict for the next request
                "prediction": prediction,
            }
            if probabilities is not None:
                event["probabilities"] = probabilities
            if target is not None:
                event["target"] = target
            if latency_ms is None:
                start = REQUEST_START.get()
                if start is not None:
                    latency_ms = (time.perf_counter() - start) * 1000.0
            if latency_ms is not None:
                event["latency_ms"] = latency_ms
            if attributions is not None:
                event["attributions"] = attributions
            if metadata is not None:
                event["metadata"] = metadata
            self._enqueue("events", event)
        except Exception as exc:  # the prediction must be served even when its event cannot be logged
            self._drop(
                1, "bad-event", f"modelmon: event {event_id or '?'} for {self.model!r} dropped: {exc!r}"
            )
        return event_id

    def log_target(self, id: Any, target: Any) -> None:
        """Queue the ground truth of an event logged earlier with this ``id``."""
        try:
            self._enqueue("targets", {"id": str(id), "target": target})
        except Exception as exc:
            self._drop(1, "bad-event", f"modelmon: target for {id!r} dropped: {exc!r}")

    def _enqueue(self, kind: str, item: dict[str, Any]) -> None:
        if self._closed:
            self._drop(1, "closed", f"modelmon: monitor for {self.model!r} is closed; {kind} dropped")
            return
        items = self._items
        if len(items) >= self.queue_size:
            message = f"modelmon: queue of {self.queue_size} items for {self.model!r} is full; {kind} dropped"
            self._drop(1, "queue-full", message)
            return
        items.append((kind, item))
        if len(items) == self.batch_size:
            self._ready.set()

    # -- counters ----------------------------------------------------------------------------------------

    @property
    def sent(self) -> int:
        """Events and targets the service accepted."""
        return self._sender.sent

    @property
    def rejected(self) -> int:
        """Events and targets the service refused (a wrong type, a missing field); also in ``dropped``."""
        return self._rejected

    @property
    def dropped(self) -> int:
        """Events and targets given up: queue or spool full, not serializable, refused by the service."""
        return self._dropped

    @property
    def spooled(self) -> int:
        """Events and targets waiting in the spool file for the service to come back."""
        return self._spool.count if self._spool is not None else 0

    @property
    def queue_depth(self) -> int:
        """Events and targets waiting in memory for the sender thread."""
        return len(self._items)

    @property
    def spool_file(self) -> Path | None:
        """The spool file in use (None when no spool could be opened)."""
        return self._spool.path if self._spool is not None else None

    # -- flushing and closing ------------------------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> Delivery:
        """Wait until everything logged so far reached the service, and say what became of it: false
        when ``timeout`` ran out first or when items were refused or dropped (counts and first reasons)."""
        deadline = time.monotonic() + timeout
        self._replay_now.set()
        self._ready.set()
        with self._idle:
            while self._items or self._in_flight or self.spooled:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    return self._delivery(finished=False)
                self._idle.wait(min(remaining, 0.05))
        return self._delivery(finished=True)

    def _delivery(self, finished: bool) -> Delivery:
        """What became of the items since the previous answer (and start counting afresh)."""
        with self._lock:
            sent, rejected, dropped = self.sent, self._rejected, self._dropped
            before = self._reported
            self._reported = (sent, rejected, dropped)
            reasons, self._reasons = tuple(self._reasons), []
        return Delivery(
            finished=finished,
            sent=sent - before[0],
            rejected=rejected - before[1],
            dropped=dropped - before[2],
            spooled=self.spooled,
            reasons=reasons,
        )

    def close(self, timeout: float = 5.0) -> Delivery:
        """Send what is queued (spooling what the service does not take) and stop; the answer is true
        when the sender stopped in time and nothing was refused or dropped (see :meth:`flush`).

        Events still spooled stay on disk and are replayed by the next Monitor that opens the same spool.
        """
        if not self._closed:
            self._closed = True
            atexit.unregister(self._exit_hook)
            self._close_deadline = time.monotonic() + timeout
            self._stop.set()
            self._ready.set()
        self._thread.join(timeout)
        return self._delivery(finished=not self._thread.is_alive())

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the sender thread --------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                self._ready.wait(self._wait_seconds())
                self._ready.clear()
                self._drain()
                deadline = self._close_deadline if self._stop.is_set() else time.monotonic() + 1.0
                force = self._replay_now.is_set()
                self._replay_now.clear()
                self._sender.replay(deadline, force=force)
            except Exception:  # a bug here must not end monitoring for the life of the process
                logger.exception("modelmon sender thread for %r failed; continuing", self.model)
                time.sleep(min(self.flush_interval, 1.0))
            with self._idle:
                self._idle.notify_all()
            if self._stop.is_set() and not self._items:
                break
        self._close_spool()

    def _close_spool(self) -> None:
        spool = self._spool
        if spool is None:
            return
        spool.close()
        if not spool and self._private_spool:  # leave no empty per-process files behind
            for leftover in (spool.path, spool.path.with_name(spool.path.name + ".lock")):
                leftover.unlink(missing_ok=True)

    def _wait_seconds(self) -> float:
        if self._stop.is_set():
            return 0.0
        if self._sender.spool:  # wake in time for the next replay attempt
            return min(self.flush_interval, max(self._sender.next_attempt - time.monotonic(), 0.0))
        return self.flush_interval

    def _drain(self) -> None:
        """Deliver everything queued, ``batch_size`` at a time, events before the targets of a batch."""
        items = self._items
        while items:
            count = min(len(items), self.batch_size)
            self._in_flight = count  # before taking them, so flush() never sees them nowhere
            batch = [items.popleft() for _ in range(count)]
            try:
                events = [item for kind, item in batch if kind == "events"]
                targets = [item for kind, item in batch if kind == "targets"]
                if events:
                    self._sender.deliver("events", events)
                if targets:
                    self._sender.deliver("targets", targets)
            except Exception as exc:  # a bug, not the network: count the loss, keep the thread alive
                logger.exception("modelmon sender for %r failed on a batch", self.model)
                self._drop(
                    count, "internal", f"modelmon: {count} items dropped after an internal error: {exc!r}"
                )
            finally:
                self._in_flight = 0

    def _drop(self, count: int, key: str, message: str) -> None:
        """Count ``count`` items as dropped and log why, at most once per ``_WARN_EVERY`` seconds per key."""
        now = time.monotonic()
        with self._lock:
            self._dropped += count
            if key == "rejected" or key.startswith(
                "refused-"
            ):  # the service said no: sending again won't help
                self._rejected += count
            if len(self._reasons) < MAX_REASONS:
                self._reasons.append(message)
            last, suppressed = self._warned.get(key, (-_WARN_EVERY, 0))
            if now - last < _WARN_EVERY:
                self._warned[key] = (last, suppressed + 1)
                return
            self._warned[key] = (now, 0)
        more = f" ({suppressed} similar messages since the last one)" if suppressed else ""
        logger.warning("%s%s", message, more)

    def _open_spool(self) -> Spool | None:
        path = Path(self.spool_path) if self.spool_path is not None else default_spool_path(self.model)
        for candidate in (path, path.with_name(f"{path.stem}-{os.getpid()}{path.suffix}")):
            try:
                spool = Spool(candidate, max_bytes=self.spool_max_bytes)
            except SpoolLockedError:
                continue
            except OSError as exc:
                logger.warning(
                    "modelmon: cannot use spool %s (%s); events are dropped while down", candidate, exc
                )
                return None
            self._private_spool = candidate != path
            return spool
        logger.warning(
            "modelmon: spool %s and its per-process variant are in use; running without a spool", path
        )
        return None


def _new_id() -> str:
    """A random (version 4) UUID as 32 hex digits, a few times faster than ``uuid.uuid4().hex``.

    >>> import uuid
    >>> uuid.UUID(hex=_new_id()).version
    4
    """
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return raw.hex()


def _close_at_exit(monitor_ref: weakref.ref[Monitor]) -> None:
    monitor = monitor_ref()
    if monitor is not None:
        monitor.close(timeout=min(2 * monitor.timeout, 5.0))


def _restart_in_child(monitor_ref: weakref.ref[Monitor]) -> None:
    """After fork the sender thread is gone and the queue's locks may be held: start afresh in the child."""
    monitor = monitor_ref()
    if monitor is not None and not monitor._closed:
        if monitor._spool is not None:
            monitor._spool.close()  # the parent keeps its lock; this process opens its own spool
        monitor._reset()
