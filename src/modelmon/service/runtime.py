"""The monitoring service's moving parts: model monitors, store writer, recompute loop, probes.

:class:`MonitoringService` owns them and is what the HTTP app talks to; it can also be used
without HTTP (tests, notebooks): ``service.ingest(model, events)`` then ``service.recompute_all()``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from modelmon.config import Config
from modelmon.engine.report import headline_numbers
from modelmon.service.events import CheckedBatch
from modelmon.service.health import HealthProber
from modelmon.service.model_monitor import ModelMonitor
from modelmon.service.persist import Persister
from modelmon.store import open_store
from modelmon.store.base import Store

__all__ = ["MonitoringService", "history_values"]

log = logging.getLogger("modelmon.service")


def history_values(result: Mapping[str, Any]) -> dict[str, float]:
    """The headline numbers of a window result, as flat metric-history names."""
    return headline_numbers(result, rows_name="window_rows")


class MonitoringService:
    """Every configured model's monitor plus the shared store, writer and probes."""

    def __init__(
        self,
        config: Config,
        store: Store | None = None,
        references: Mapping[str, pd.DataFrame] | None = None,
        probe_interval: float = 10.0,
    ) -> None:
        self.config = config
        self.store = store if store is not None else open_store(config.store)
        references = references or {}
        self.monitors: dict[str, ModelMonitor] = {
            name: ModelMonitor(model, references.get(name)) for name, model in config.models.items()
        }
        self.persister = Persister(self.store)
        targets = {service: (url, "") for service, url in config.health.items()}
        for name, model in config.models.items():
            if model.health_url:
                targets[name] = (model.health_url, name)
        self.prober = HealthProber(targets, interval=probe_interval)
        self.started_at = time.time()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> MonitoringService:
        """Start the recompute loop and the health probes."""
        self.prober.start()
        self._thread = threading.Thread(target=self._loop, name="modelmon-recompute", daemon=True)
        self._thread.start()
        return self

    def ingest(self, model: str, events: Sequence[Any]) -> CheckedBatch:
        batch = self.monitors[model].ingest(events, datetime.now(UTC))
        self.persister.events(model, batch.documents)
        return batch

    def add_targets(self, model: str, targets: Sequence[Any]) -> tuple[int, list[dict[str, Any]]]:
        pairs, rejected = self.monitors[model].add_targets(targets)
        self.persister.targets(model, pairs)
        return len(pairs), rejected

    def recompute(self, model: str) -> dict[str, Any]:
        result = self.monitors[model].recompute()
        try:
            self.store.metrics.append(model, datetime.now(UTC), history_values(result))
        except Exception as exc:  # the history is best effort; the live result stands
            log.error("could not append metric history of %s: %s", model, exc)
        return result

    def recompute_all(self) -> None:
        for name in self.monitors:
            self.recompute(name)

    def _loop(self) -> None:
        due = {name: 0.0 for name in self.monitors}
        while not self._stop.is_set():
            now = time.monotonic()
            for name, monitor in self.monitors.items():
                if now >= due[name]:
                    try:
                        self.recompute(name)
                    except Exception:
                        log.exception("recompute of model %s failed", name)
                    due[name] = now + monitor.config.refresh_seconds
            wait = max(0.05, min(due.values()) - time.monotonic())
            self._stop.wait(wait)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self.prober.close()
        self.persister.close()
        self.store.close()
