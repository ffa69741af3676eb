"""The monitoring service's moving parts: model monitors, journal, store writer, recompute loop, probes.

:class:`MonitoringService` owns them and is what the HTTP app talks to; it can also be used
without HTTP (tests, notebooks): ``service.ingest(model, events)`` then ``service.recompute_all()``.

An accepted batch goes: checked (:meth:`ModelMonitor.check`) -> room reserved in the store backlog
(else :class:`ServiceBusy`, answered 503) -> journaled (:mod:`modelmon.service.journal`) -> once
durable, queued for the window and for the store writer (:mod:`modelmon.service.persist`) -> answered.
At start, batches a previous run journaled but did not store are stored again, and each window is
rebuilt from the store's newest events before the service reports (``/health`` says ``warming``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from modelmon.config import Config
from modelmon.engine.report import headline_numbers
from modelmon.errors import JournalError, ServiceBusy
from modelmon.service.alerts.desk import AlertDesk
from modelmon.service.body_budget import BodyBudget
from modelmon.service.connections import ConnectionGuard
from modelmon.service.events import CheckedBatch
from modelmon.service.fitted_reference import ReferenceCache
from modelmon.service.health import HealthProber, service_health
from modelmon.service.journal import Journal, entry_line
from modelmon.service.model_monitor import ModelMonitor
from modelmon.service.persist import HistoryWriter, Persister
from modelmon.service.rendered_series import RenderedSeries
from modelmon.service.store_reads import StoreReads
from modelmon.store import open_store
from modelmon.store.base import Store

__all__ = ["MonitoringService", "data_folder", "history_values", "journal_folder"]

log = logging.getLogger("modelmon.service")

#: threads that parse and check large requests
CHECK_THREADS = 2
#: the longest a window rebuild at start may take before the service reports what it has
REBUILD_SECONDS = 60.0


def history_values(result: Mapping[str, Any]) -> dict[str, float]:
    """The headline numbers of a window result, as flat metric-history names."""
    return headline_numbers(result, rows_name="window_rows")


def journal_folder(config: Config, url: str, environ: Mapping[str, str] = os.environ) -> Path | None:
    """Where batches accepted for the store at ``url`` are journaled: configured, beside a SQLite
    file, beside the config when that folder is writable, else in the data folder.

    A config is often mounted read-only (a container's ``/etc/modelmon``), and the journal must
    not make the service fail to start there:

    >>> config = Config(path=Path("/no/such/folder/modelmon.yml"))
    >>> journal_folder(config, "mongodb://db/modelmon", {"MODELMON_DATA_DIR": "/var/lib/modelmon"})
    PosixPath('/var/lib/modelmon/journal')
    """
    if config.ingest.journal_dir is not None:
        return config.ingest.journal_dir
    if url.startswith("memory://"):
        return None  # nothing of an in-memory store survives the process: nothing to replay
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url.removeprefix("sqlite:///") + ".journal")
    beside_config = (config.path.parent if config.path is not None else Path(".")) / "modelmon-journal"
    if _writable(beside_config):
        return beside_config
    return data_folder(environ) / "journal"


def data_folder(environ: Mapping[str, str] = os.environ) -> Path:
    """The folder of the service's own files: ``MODELMON_DATA_DIR``, else ``$XDG_DATA_HOME/modelmon``,
    else ``~/.local/share/modelmon``."""
    if environ.get("MODELMON_DATA_DIR"):
        return Path(environ["MODELMON_DATA_DIR"])
    base = Path(environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "modelmon"


def _writable(folder: Path) -> bool:
    """Whether ``folder`` can be written, or made in a writable parent (a read-only mount is not)."""
    existing = folder if folder.exists() else folder.parent
    return existing.is_dir() and os.access(existing, os.W_OK)


class MonitoringService:
    """Every configured model's monitor plus the shared store, journal, writers and probes."""

    def __init__(
        self,
        config: Config,
        store: Store | None = None,
        references: Mapping[str, pd.DataFrame] | None = None,
        probe_interval: float = 10.0,
        ack_timeout: float = 1.0,
        shard: str | None = None,
    ) -> None:
        self.config = config
        #: the name of the config's shard this process serves (``modelmon serve --shard``), else None
        self.shard = shard
        self.ack_timeout = ack_timeout
        self.store = store if store is not None else open_store(config.store)
        references = references or {}
        # models naming the same reference file share it, read and fitted once
        shared = ReferenceCache()
        tolerance = config.ingest.future_tolerance_seconds
        self.monitors: dict[str, ModelMonitor] = {
            name: ModelMonitor(model, references[name], future_tolerance=tolerance)
            if name in references
            else ModelMonitor(model, fitted=shared.get(model), future_tolerance=tolerance)
            for name, model in config.models.items()
        }
        folder = journal_folder(config, self.store.url)
        self.journal = Journal(folder, fsync=config.ingest.fsync)
        recovered = self.journal.recover()
        self.persister = Persister(
            self.store,
            max_backlog=config.ingest.max_backlog,
            dead_letter=None if folder is None else folder / "dead-letter.jsonl",
            settled=self.journal.settled,
        )
        self.history = HistoryWriter(self.store)
        #: each model's section series rendered for /metrics once per result, in the recompute thread
        self.series = RenderedSeries()
        #: the store reads of requests, apart from every other thread
        self.reads = StoreReads()
        #: the threads that parse and check large requests (few: each competes with the event loop for
        #: the interpreter, and /health is answered on the loop)
        self.checks = ThreadPoolExecutor(CHECK_THREADS, thread_name_prefix="modelmon-check")
        #: bytes of request bodies worked on at once
        self.bodies = BodyBudget(config.limits.body_bytes_in_flight or 2 * config.max_body_bytes)
        #: the HTTP server's connections: header deadline and limit (used by ``modelmon serve``)
        self.connections = ConnectionGuard(config.limits.connections, config.limits.header_seconds)
        self.journal.start()
        self._recovered: dict[str, list[dict[str, Any]]] = {}
        for entry in recovered:
            self.persister.reserve(len(entry.items))
            self.persister.enqueue(entry.kind, entry.model, entry.items, entry.segment)
            if entry.kind == "events":
                self._recovered.setdefault(entry.model, []).extend(entry.items)
        if recovered:
            log.info("journal: %d batches of an earlier run are stored again", len(recovered))
        targets = {service: (url, "") for service, url in config.health.items()}
        for name, model in config.models.items():
            if model.health_url:
                targets[name] = (model.health_url, name)
        self.prober = HealthProber(targets, interval=probe_interval)
        self.started_at = time.time()
        self.warming = False
        self.last_loop_at = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Alertmanager's notifications, their diagnostic reports and actions (POST /v1/alerts)
        self.alerts = AlertDesk(self.store, self.monitors, config.alerts, config.reports_dir)

    def start(self) -> MonitoringService:
        """Rebuild the windows from the store, then recompute in the background; probe health."""
        self.warming = True
        for monitor in self.monitors.values():
            monitor.begin_warming()
        self.prober.start()
        self._thread = threading.Thread(target=self._loop, name="modelmon-recompute", daemon=True)
        self._thread.start()
        return self

    # -- ingest ----------------------------------------------------------------------------------

    def _reserve(self, model: str, count: int) -> None:
        """Take room for ``count`` items in the store writer's backlog, before any work is done on them."""
        if not self.persister.reserve(count):
            self.monitors[model].count_refused("backlog_full", count)
            raise ServiceBusy(
                f"the store writer is behind ({self.persister.backlog} items wait for the store, "
                f"the limit is {self.persister.max_backlog}): send again later",
                "backlog_full",
            )

    def _journaled(self, kind: str, model: str, items: list[Any]) -> Future[int]:
        """Journal reserved ``items``; their room is given back when the journal cannot take them."""
        try:
            future = self.journal.append(entry_line(kind, model, items), len(items))
        except JournalError as exc:
            self.persister.release(len(items))
            self.monitors[model].count_refused("journal_failing", len(items))
            raise ServiceBusy(str(exc), "journal_failing") from exc
        return future

    def _when_durable(self, future: Future[int], kind: str, model: str, items: list[Any], then: Any) -> None:
        def done(finished: Future[int]) -> None:
            if finished.cancelled() or finished.exception() is not None:
                self.persister.release(len(items))
                self.monitors[model].count_refused(
                    "journal_failing" if not finished.cancelled() else "journal_slow", len(items)
                )
                return
            try:
                then()
            except Exception:  # the window misses them, but the store must still get them
                log.exception("could not queue %d durable %s of %s for the window", len(items), kind, model)
            self.persister.enqueue(kind, model, items, finished.result())

        future.add_done_callback(done)

    def ingest_future(self, model: str, events: Sequence[Any]) -> tuple[CheckedBatch, Future[int]]:
        """Check ``events`` and journal the valid ones; the future is done once they are durable.

        Once done, the events are in the window's queue and the store writer's. Raises
        :class:`ServiceBusy` when the backlog is full (checked before the events are) or the journal
        cannot write.
        """
        monitor = self.monitors[model]
        self._reserve(model, len(events))
        try:
            batch = monitor.check(events, datetime.now(UTC))
        except BaseException:
            self.persister.release(len(events))
            raise
        self.persister.release(len(events) - len(batch.documents))
        if not batch.documents:
            done: Future[int] = Future()
            done.set_result(0)
            return batch, done
        future = self._journaled("events", model, batch.documents)
        self._when_durable(future, "events", model, batch.documents, lambda: monitor.accept(batch))
        return batch, future

    def targets_future(
        self, model: str, targets: Sequence[Any]
    ) -> tuple[list[tuple[str, Any]], list[dict[str, Any]], Future[int]]:
        """Check late targets and journal the valid ones (as :meth:`ingest_future` for events)."""
        monitor = self.monitors[model]
        self._reserve(model, len(targets))
        try:
            pairs, rejected = monitor.check_targets(targets)
        except BaseException:
            self.persister.release(len(targets))
            raise
        self.persister.release(len(targets) - len(pairs))
        if not pairs:
            done: Future[int] = Future()
            done.set_result(0)
            return pairs, rejected, done
        future = self._journaled("targets", model, pairs)
        self._when_durable(future, "targets", model, pairs, lambda: monitor.accept_targets(pairs))
        return pairs, rejected, future

    def wait_durable(self, future: Future[int]) -> None:
        """Block until ``future`` is durable, withdrawing it (:class:`ServiceBusy`) after ``ack_timeout``."""
        try:
            future.result(timeout=self.ack_timeout)
        except TimeoutError:
            if future.cancel():
                raise ServiceBusy("the journal is slow to write: send again later", "journal_slow") from None
            future.result()
        except JournalError as exc:
            raise ServiceBusy(str(exc), "journal_failing") from exc

    def ingest(self, model: str, events: Sequence[Any]) -> CheckedBatch:
        """Check, journal and queue ``events``, returning once they are durable."""
        batch, future = self.ingest_future(model, events)
        self.wait_durable(future)
        return batch

    def add_targets(self, model: str, targets: Sequence[Any]) -> tuple[int, list[dict[str, Any]]]:
        pairs, rejected, future = self.targets_future(model, targets)
        self.wait_durable(future)
        return len(pairs), rejected

    # -- windows ---------------------------------------------------------------------------------

    def rebuild(self, max_seconds: float = REBUILD_SECONDS) -> None:
        """Refill every window (and the concept detectors) from the store's newest events."""
        deadline = time.monotonic() + max_seconds
        for name, monitor in self.monitors.items():
            try:
                rows = monitor.rebuild(self.store.events, self._recovered.pop(name, []), deadline)
                log.info("window of %s rebuilt from the store: %d rows", name, rows)
            except Exception:  # a store that cannot be read leaves an empty window, and says so
                monitor.rebuild_error = "the window could not be rebuilt from the store"
                log.exception("could not rebuild the window of %s from the store", name)

    def recompute(self, model: str) -> dict[str, Any]:
        result = self.monitors[model].recompute()
        self.history.append(model, datetime.now(UTC), history_values(result))
        self.series.update(model, result)
        return result

    def refresh(self, model: str) -> bool:
        """Recompute ``model`` if anything changed since its last recompute; whether it did."""
        monitor = self.monitors[model]
        if not monitor.refresh():
            return False
        assert monitor.latest is not None
        self.history.append(model, datetime.now(UTC), history_values(monitor.latest))
        self.series.update(model, monitor.latest)
        return True

    def recompute_all(self) -> None:
        for name in self.monitors:
            self.recompute(name)

    def _loop(self) -> None:
        self.rebuild()
        self.warming = False
        due = {name: 0.0 for name in self.monitors}
        while not self._stop.is_set():
            now = time.monotonic()
            self.last_loop_at = now
            for name, monitor in self.monitors.items():
                if now >= due[name]:
                    try:
                        self.refresh(name)
                    except Exception as exc:
                        monitor.recompute_error = f"{type(exc).__name__}: {exc}"
                        log.exception("recompute of model %s failed", name)
                    due[name] = now + monitor.config.refresh_seconds
            wait = max(0.05, min(due.values(), default=1.0) - time.monotonic())
            self._stop.wait(wait)

    def health(self) -> dict[str, Any]:
        """``/health``: ok, warming or degraded with the reasons; reads only what is in memory."""
        return service_health(self)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self.prober.close()
        self.alerts.close()
        self.persister.close()
        self.journal.close()
        self.history.close()
        self.checks.shutdown(wait=False)
        self.store.close()
