"""The alert desk's Prometheus series, read from its counters at scrape time.

Labels come from the config (model and receiver names) or fixed words, so no payload can add series.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

__all__ = ["AlertCollector"]


class AlertCollector(Collector):
    """``modelmon_alerts_received_total{model,status}``, ``modelmon_alerts_ignored_total``,
    ``modelmon_alert_reports_total{model,outcome}``, ``modelmon_alert_notifications_total{receiver,outcome}``
    and ``modelmon_alert_actions_total{model,outcome}``."""

    def __init__(self, desk: Any) -> None:
        self.desk = desk

    def collect(self) -> Iterator[CounterMetricFamily]:
        desk = self.desk
        received = CounterMetricFamily(
            "modelmon_alerts_received", "Alerts received from Alertmanager", labels=["model", "status"]
        )
        for (model, status), count in sorted(desk.received.items()):
            received.add_metric([model, status], count)
        yield received
        ignored = CounterMetricFamily("modelmon_alerts_ignored", "Alerts that named no model of this service")
        ignored.add_metric([], desk.ignored)
        yield ignored
        families = (
            ("modelmon_alert_reports", "Diagnostic reports of alerts by outcome", "model", desk.reports),
            (
                "modelmon_alert_notifications",
                "Enriched notifications by outcome",
                "receiver",
                desk.deliveries,
            ),
            ("modelmon_alert_actions", "Alert actions (Prefect runs) by outcome", "model", desk.actions),
        )
        for name, text, label, counts in families:
            family = CounterMetricFamily(name, text, labels=[label, "outcome"])
            for (value, outcome), count in sorted(counts.items()):
                family.add_metric([value, outcome], count)
            yield family
