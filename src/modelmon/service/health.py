"""Health probes of the services and models named in the config, and the service's own health.

Each URL is fetched periodically; a 2xx answer within the timeout means up. The latest outcome
and probe duration of each service are exported as ``modelmon_service_up`` and
``modelmon_service_probe_seconds``.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

__all__ = ["REASONS", "HealthProber", "probe", "service_health"]


def probe(url: str, timeout: float = 2.0) -> tuple[bool, float]:
    """Fetch ``url``; (answered 2xx, seconds taken)."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            ok = 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        ok = False
    return ok, time.perf_counter() - started


class HealthProber:
    """Probes ``targets`` (service -> (url, model label)) every ``interval`` seconds in a thread."""

    def __init__(
        self, targets: Mapping[str, tuple[str, str]], interval: float = 10.0, timeout: float = 2.0
    ) -> None:
        self.targets = dict(targets)
        self.interval = interval
        self.timeout = timeout
        self._results: dict[str, tuple[bool, float | None, str]] = {
            service: (False, None, model) for service, (_, model) in self.targets.items()
        }
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="modelmon-health", daemon=True)

    def start(self) -> HealthProber:
        if self.targets:
            self._thread.start()
        return self

    def probe_all(self) -> None:
        for service, (url, model) in self.targets.items():
            ok, seconds = probe(url, self.timeout)
            self._results[service] = (ok, seconds, model)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.probe_all()
            self._stop.wait(self.interval)

    def results(self) -> dict[str, tuple[bool, float | None, str]]:
        """service -> (up, probe seconds, model label)."""
        return dict(self._results)

    def close(self) -> None:
        self._stop.set()


#: a store writer whose oldest waiting item is older than this is behind
WRITER_BEHIND_SECONDS = 5.0
#: the reasons /health may give (codes; the message beside each says more)
REASONS = (
    "warming",
    "store_writes_failing",
    "store_writer_behind",
    "store_writer_stopped",
    "store_reads_failing",
    "journal_failing",
    "recompute_failing",
    "recompute_stale",
    "section_failing",
    "window_rebuild_failed",
)


def service_health(service: Any) -> dict[str, Any]:
    """The ``/health`` answer of a :class:`~modelmon.service.runtime.MonitoringService`.

    Reads counters and flags in memory only (never the store), so it answers at once whatever the
    store is doing. ``status`` is ``warming`` while windows are rebuilt at start, ``degraded`` when
    any reason below holds, else ``ok``.
    """
    reasons: list[dict[str, str]] = []

    def reason(code: str, message: str) -> None:
        reasons.append({"code": code, "message": message})

    persister, journal = service.persister, service.journal
    if service.warming:
        reason("warming", "windows are being rebuilt from the store")
    if persister.failing_since is not None:
        reason("store_writes_failing", f"writes to the store fail: {persister.last_error}")
    lag = persister.lag_seconds
    if lag > WRITER_BEHIND_SECONDS or persister.backlog > persister.max_backlog // 2:
        reason(
            "store_writer_behind",
            f"{persister.backlog} items wait for the store (limit {persister.max_backlog}), "
            f"the oldest for {lag:.1f} s",
        )
    if not persister.alive:
        reason("store_writer_stopped", "the store writer thread stopped")
    reads = service.reads
    if reads.failing:
        reason("store_reads_failing", f"reads of the store fail or time out: {reads.last_error}")
    if journal.last_error is not None:
        reason("journal_failing", journal.last_error)
    started = service._thread is not None and not service.warming
    for name, monitor in service.monitors.items():
        if monitor.recompute_error is not None:
            reason("recompute_failing", f"model {name}: {monitor.recompute_error}")
        if monitor.rebuild_error is not None:
            reason("window_rebuild_failed", f"model {name}: {monitor.rebuild_error}")
        for section, error in monitor.failing_sections().items():
            reason("section_failing", f"model {name}: section {section} fails: {error}")
        stale_after = 3 * monitor.config.refresh_seconds + 30
        if started and time.monotonic() - monitor.recomputed_at > stale_after:
            reason("recompute_stale", f"model {name}: no recompute for over {stale_after:.0f} s")
    status = "warming" if service.warming else "degraded" if reasons else "ok"
    return {
        "status": status,
        "reasons": reasons,
        "uptime_seconds": round(time.time() - service.started_at, 3),
        "shard": service.shard,
        "models": sorted(service.monitors),
        "store": {
            "written": persister.written,
            "backlog": persister.backlog,
            "max_backlog": persister.max_backlog,
            "lag_seconds": round(lag, 3),
            "failures": persister.failures,
            "dead_lettered": persister.dead_lettered,
            "last_error": persister.last_error,
            "history_dropped": service.history.dropped,
        },
        "store_reads": reads.health(),
        "connections": service.connections.health(),
        "bodies": service.bodies.health(),
        "journal": {
            "folder": None if journal.folder is None else str(journal.folder),
            "fsync": journal.fsync,
            "unsettled": journal.unsettled,
            "failures": journal.failures,
            "damaged_records": journal.damaged,
            "quarantined_files": journal.quarantined_files,
        },
        "refused": {name: dict(m.counters.refused) for name, m in service.monitors.items()},
        "rejected": {name: sum(m.counters.rejected.values()) for name, m in service.monitors.items()},
        # by reason: ``timestamp`` counts, among others, events stamped beyond the future tolerance
        "rejected_by_reason": {name: dict(m.counters.rejected) for name, m in service.monitors.items()},
        "awaiting_target": {
            name: {
                "events": m.window.awaiting_target,
                "max": m.config.max_awaiting_target,
                "forgotten": m.window.forgotten,
            }
            for name, m in service.monitors.items()
        },
        "alerts": {"queued": service.alerts.pending(), "ignored": service.alerts.ignored},
        "section_errors": {name: dict(m.counters.section_errors) for name, m in service.monitors.items()},
    }
