"""Store reads of requests (``/history``, ``/v1/reports``): their own threads, a bound and a deadline.

A store that went away can hold a read for a minute (a PostgreSQL pool waits for a connection,
then retries). Run in the threads that also serve ``/metrics`` and ingest checks, a dashboard's
worth of such reads would take them all. Here reads run in at most :attr:`StoreReads.workers`
threads of their own (daemon threads: a read stuck on the store never holds up the process's exit).
A read that finds them all taken, or a store that already let a read pass its deadline, is
answered 503 with ``Retry-After`` at once; a read that passes :attr:`StoreReads.seconds` is
answered 503 then (its thread goes on until the store answers, and counts as busy until then).
An input the store refuses (:class:`~modelmon.errors.InputError`) is the request's fault: 400.

>>> import asyncio
>>> reads = StoreReads(workers=1, seconds=1.0)
>>> asyncio.run(reads.run(lambda: 42))
42
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from modelmon.errors import BodyError, InputError, ServiceBusy, StoreError

__all__ = ["STORE_READS", "STORE_READ_SECONDS", "StoreReads"]

T = TypeVar("T")

#: threads that read the store for requests (a PostgreSQL pool holds 8 connections; the writer needs one)
STORE_READS = 4
#: seconds a request waits for the store before it is answered 503 (a read takes milliseconds)
STORE_READ_SECONDS = 5.0
#: a read failure this recent makes /health say so
_RECENT_SECONDS = 30.0


class StoreReads:
    """Runs store reads in ``workers`` threads of their own, each answered within ``seconds``."""

    def __init__(
        self, workers: int = STORE_READS, seconds: float = STORE_READ_SECONDS, retry_after: int = 5
    ) -> None:
        if workers < 1 or seconds <= 0:
            raise ValueError(f"workers must be >= 1 and seconds > 0, got {workers} and {seconds}")
        self.workers = workers
        self.seconds = seconds
        self.retry_after = retry_after
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._started: dict[int, float] = {}  # reads in their threads -> when they started
        self._numbers = iter(range(2**62))
        #: reads answered 503 without reaching the store (all threads taken, or the store is stuck)
        self.refused = 0
        #: reads answered 503 after waiting ``seconds`` for the store
        self.timed_out = 0
        #: reads the store failed (answered 503)
        self.failed = 0
        self.last_error: str | None = None
        self.last_failure_at: float | None = None

    @property
    def in_flight(self) -> int:
        """Reads in their threads (including those whose request was already answered 503)."""
        with self._lock:
            return len(self._started)

    @property
    def failing(self) -> bool:
        """A read timed out or failed within the last 30 s, or one is stuck past its deadline now."""
        failed_at = self.last_failure_at
        recent = failed_at is not None and time.monotonic() - failed_at < _RECENT_SECONDS
        return recent or self._stuck_for() > 0

    def _stuck_for(self) -> float:
        with self._lock:
            oldest = min(self._started.values(), default=None)
        waited = 0.0 if oldest is None else time.monotonic() - oldest
        return waited if waited > self.seconds else 0.0

    def _refuse(self, message: str, reason: str, store_failed: bool = True) -> ServiceBusy:
        if store_failed:  # (all threads taken is load, not a fault of the store)
            self.last_failure_at = time.monotonic()
            self.last_error = message
        return ServiceBusy(message, reason, self.retry_after)

    def _admit(self) -> int:
        stuck = self._stuck_for()
        with self._lock:
            if stuck or len(self._started) >= self.workers:
                self.refused += 1
                busy = len(self._started)
            else:
                number = next(self._numbers)
                self._started[number] = time.monotonic()
                return number
        if stuck:
            message = f"the store has not answered a read for {stuck:.0f} s: try again later"
            raise self._refuse(message, "store_unavailable")
        message = f"{busy} store reads are running (the limit is {self.workers}): try again later"
        raise self._refuse(message, "store_reads_busy", store_failed=False)

    def _finished(self, number: int) -> Callable[[Future[Any]], None]:
        def done(_: Future[Any]) -> None:
            with self._lock:
                self._started.pop(number, None)

        return done

    async def run(self, work: Callable[[], T]) -> T:
        """``work()`` in a read thread; :class:`~modelmon.errors.ServiceBusy` (503) when the store does not
        answer in time or fails, :class:`~modelmon.errors.BodyError` (400) when it refuses the input."""
        number = self._admit()
        future: Future[T] = Future()
        future.add_done_callback(self._finished(number))

        def read() -> None:
            try:
                future.set_result(work())
            except BaseException as exc:  # handed to the request, which answers for it
                future.set_exception(exc)

        future.set_running_or_notify_cancel()
        threading.Thread(target=read, name="modelmon-store-read", daemon=True).start()
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.seconds)
        except TimeoutError:
            self.timed_out += 1
            message = f"the store did not answer within {self.seconds:g} s: try again later"
            raise self._refuse(message, "store_read_timeout") from None
        except StoreError as exc:
            self.failed += 1
            raise self._refuse(f"the store cannot be read now: {exc}", "store_unavailable") from exc
        except InputError as exc:
            # the store's message may name its URL or file: the client is told what it can change
            raise BodyError(
                "the store refused this request's parameters (a value it cannot search for)"
            ) from exc

    def health(self) -> dict[str, Any]:
        """The counts ``/health`` shows."""
        return {
            "workers": self.workers,
            "seconds": self.seconds,
            "in_flight": self.in_flight,
            "refused": self.refused,
            "timed_out": self.timed_out,
            "failed": self.failed,
            "last_error": self.last_error,
        }
