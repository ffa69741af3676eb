"""The alert desk: takes Alertmanager's notifications, builds one diagnostic report per alert and
period, forwards enriched notifications and starts the opt-in action.

``receive`` answers at once: it records each alert in the :class:`~.book.AlertBook` and queues the
work of a new firing alert for one background thread, so Alertmanager's webhook never waits on a
report. The queue is bounded (:data:`MAX_QUEUED`); an alert beyond it is recorded with its report
``skipped`` and counted, never dropped silently. Per alert the thread then

1. builds the report of the alert's period (:mod:`.diagnosis`), ranked findings included;
2. posts the enriched notification to every configured receiver (:mod:`.notify`), recording each
   outcome;
3. when the model has an action, the alert's name matches it, the report confirms a change and the
   cool-down has passed, starts the Prefect deployment (:mod:`.action`) and records the run.

A resolved alert closes its entry (``status: resolved``, ``resolved_at``) and is forwarded too.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelmon.config.alerts import AlertSettings
from modelmon.service.alerts.book import AlertBook
from modelmon.service.alerts.payload import Alert

__all__ = ["MAX_QUEUED", "AlertDesk"]

log = logging.getLogger(__name__)

#: alerts whose report waits to be built; beyond it a report is skipped (counted)
MAX_QUEUED = 32


class AlertDesk:
    """Alerts of the models of ``monitors``, reports built from ``store`` into ``reports_dir``."""

    def __init__(
        self, store: Any, monitors: dict[str, Any], settings: AlertSettings, reports_dir: Path
    ) -> None:
        self.store = store
        self.monitors = monitors
        self.settings = settings
        self.reports_dir = Path(reports_dir)
        self.book = AlertBook(self.reports_dir / "alerts" / "alerts.json")
        #: counters exported as Prometheus series (labels from the config or fixed words)
        self.received: Counter[tuple[str, str]] = Counter()  # (model, status)
        self.ignored = 0
        self.reports: Counter[tuple[str, str]] = Counter()  # (model, ready|empty|failed|skipped)
        self.deliveries: Counter[tuple[str, str]] = Counter()  # (receiver, sent|failed)
        self.actions: Counter[tuple[str, str]] = Counter()  # (model, started|failed|cooldown|...)
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue(MAX_QUEUED)
        self._thread = threading.Thread(target=self._work, name="modelmon-alerts", daemon=True)
        self._thread.start()

    # -- the webhook ------------------------------------------------------------------------------

    def receive(self, alerts: list[Alert], base_url: str) -> dict[str, Any]:
        """Record ``alerts`` and queue their work; the answer of ``POST /v1/alerts``."""
        answered: list[dict[str, Any]] = []
        ignored: list[dict[str, Any]] = []
        for index, alert in enumerate(alerts):
            if alert.model is None or alert.model not in self.monitors:
                ignored.append({"index": index, "reason": "no model label" if alert.model is None
                                else "not a model of this service"})  # fmt: skip
                self.ignored += 1
                continue
            status = "firing" if alert.firing else "resolved"
            self.received[(alert.model, status)] += 1
            entry, new = self.book.open(alert.key, self._fields(alert, base_url))
            if alert.firing and new:
                entry = self._queue_report(alert.key, base_url) or entry
            elif not alert.firing and entry.get("status") != "resolved":
                ends = (alert.ends_at or datetime.now(UTC)).isoformat()
                entry = (
                    self.book.update(alert.key, status="resolved", ends_at=ends, resolved_at=time.time())
                    or entry
                )
                self._put(alert.key, "resolved")
            report = entry.get("report") or {}
            answered.append(
                {
                    "fingerprint": alert.fingerprint,
                    "model": alert.model,
                    "status": entry["status"],
                    "report": report.get("state"),
                    "report_id": report.get("id"),
                    "new": new,
                }
            )
        return {"alerts": answered, "ignored": ignored}

    def _fields(self, alert: Alert, base_url: str) -> dict[str, Any]:
        return {
            "alertname": alert.name,
            "model": alert.model,
            "fingerprint": alert.fingerprint,
            "status": "firing" if alert.firing else "resolved",
            "starts_at": alert.starts_at.isoformat(),
            "ends_at": None if alert.ends_at is None else alert.ends_at.isoformat(),
            "labels": dict(alert.labels),
            "annotations": dict(alert.annotations),
            "base_url": self.settings.public_url or base_url.rstrip("/"),
            "report": {"state": "building" if alert.firing else "none"},
        }

    def _queue_report(self, key: str, base_url: str) -> dict[str, Any] | None:
        if self._put(key, "firing"):
            return None
        entry = self.book.get(key) or {}
        self.reports[(entry.get("model", ""), "skipped")] += 1
        error = f"more than {MAX_QUEUED} alerts wait for their report: this one was skipped"
        return self.book.update(key, report={"state": "skipped", "error": error})

    def _put(self, key: str, what: str) -> bool:
        try:
            self._queue.put_nowait((key, what))
            return True
        except queue.Full:
            return False

    # -- the background work -------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._handle(*item)
            finally:
                self._queue.task_done()

    def _handle(self, key: str, what: str) -> None:
        try:
            if what == "firing":
                self._diagnose(key)
            self._notify(key)
            if what == "firing":
                self._act(key)
        except Exception:  # a bug must not stop the desk: the entry says it failed, the log why
            log.exception("alert %s: its work failed", key)
            self.book.update(key, report={"state": "failed", "error": "internal error (see the log)"})

    def _diagnose(self, key: str) -> None:
        from modelmon.service.alerts.diagnosis import diagnose, period_start

        entry = self.book.get(key)
        if entry is None:
            return
        monitor = self.monitors[entry["model"]]
        starts_at = datetime.fromisoformat(entry["starts_at"])
        until = datetime.now(UTC)
        try:
            since = period_start(self.store, monitor, starts_at, self.settings.lookback_seconds)
            name = f"{entry['alertname'] or 'alert'}-{entry['fingerprint']}-{int(starts_at.timestamp())}"
            alert = {key: entry.get(key) for key in ("alertname", "fingerprint", "starts_at", "labels")}
            done = diagnose(self.store, monitor, since, until, self.reports_dir, name, {"alert": alert})
        except Exception as exc:
            log.warning("alert %s: the diagnostic report failed: %s", key, exc)
            self.reports[(entry["model"], "failed")] += 1
            self.book.update(key, report={"state": "failed", "error": f"{type(exc).__name__}: {exc}"})
            return
        if done is None:
            self.reports[(entry["model"], "empty")] += 1
            start = "its first event" if since is None else since.isoformat()
            error = f"no events of {entry['model']} from {start} to {until.isoformat()}"
            self.book.update(key, report={"state": "empty", "error": error})
            return
        self.reports[(entry["model"], "ready")] += 1
        base = entry["base_url"]
        report = {
            "state": "ready",
            "id": done.report_id,
            "url": f"{base}/v1/reports/{done.report_id}/html",
            "json_url": f"{base}/v1/reports/{done.report_id}",
            "since": done.since.isoformat(),
            "until": done.until.isoformat(),
            "rows": done.rows,
        }
        self.book.update(key, report=report, findings=done.report["diagnosis"])

    def _notify(self, key: str) -> None:
        from modelmon.service.alerts.notify import deliver

        entry = self.book.get(key)
        if entry is None or not self.settings.receivers:
            return
        outcomes = list(entry.get("deliveries") or [])
        for receiver in self.settings.receivers:
            outcome = {**deliver(receiver, entry), "status_sent": entry["status"]}
            self.deliveries[(receiver.name, "sent" if outcome["ok"] else "failed")] += 1
            outcomes.append(outcome)
        self.book.update(key, deliveries=outcomes[-20:])

    def _act(self, key: str) -> None:
        from modelmon.service.alerts.action import ActionError, start_deployment

        entry = self.book.get(key)
        action = None if entry is None else self.settings.actions.get(entry["model"])
        if entry is None or action is None:
            return
        model = entry["model"]
        record: dict[str, Any] = {"deployment": action.deployment, "at": time.time()}
        last = self.book.last_action(model)
        api = action.prefect_api_url or self.settings.prefect_api_url
        report = entry.get("report") or {}
        if action.alerts and entry["alertname"] not in action.alerts:
            return
        if report.get("state") != "ready" or not (entry.get("findings") or {}).get("confirmed"):
            record.update(state="not_confirmed", error="the diagnostic report shows no change: no action")
        elif last is not None and record["at"] - last < action.cooldown_seconds:
            waited = f"{record['at'] - last:.0f} s ago (cool-down {action.cooldown_seconds:.0f} s)"
            record.update(state="cooldown", error=f"an action of {model} started {waited}")
        elif api is None:
            record.update(
                state="failed", error="no Prefect API: set alerts.prefect_api_url or PREFECT_API_URL"
            )
        else:
            parameters = {
                "model": model,
                "since": report["since"],
                "until": report["until"],
                "report_id": report["id"],
            }
            try:
                run = start_deployment(api, action.deployment, parameters)
                record.update(
                    state="started", flow_run_id=run["id"], flow_run_name=run["name"], parameters=parameters
                )
            except ActionError as exc:
                record.update(state="failed", error=str(exc))
        self.actions[(model, record["state"])] += 1
        self.book.update(key, action=record)

    # -- reading --------------------------------------------------------------------------------------

    def recent(self, model: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """The newest alerts (of ``model``), each with its report, deliveries and action."""
        return self.book.entries(model, limit)

    def pending(self) -> int:
        return self._queue.qsize()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no work is queued or running (for tests and a clean stop)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=1)
