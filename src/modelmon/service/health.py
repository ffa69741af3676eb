"""Health probes of the services and models named in the config.

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

__all__ = ["HealthProber", "probe"]


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
