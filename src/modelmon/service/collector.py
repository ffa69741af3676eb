"""Prometheus exposition of the monitoring service, read at scrape time.

A custom collector turns the latest window results of every model into metric families when
Prometheus scrapes; computations never set global gauges. Every series is labelled ``model``;
label values are bounded (columns come from the schema, segment values are the top K plus
"other", as the engine reports them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from modelmon import sections
from modelmon.sections.section import mapping
from modelmon.service.model_monitor import LATENCY_BUCKETS

if TYPE_CHECKING:
    from modelmon.service.model_monitor import ModelMonitor

__all__ = ["MonitorCollector", "section_series"]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


class _Families:
    """Metric families by name, created on first use with fixed label names."""

    def __init__(self) -> None:
        self.families: dict[str, GaugeMetricFamily] = {}

    def gauge(self, name: str, documentation: str, labels: Mapping[str, str], value: Any) -> None:
        number = _number(value)
        if number is None:
            return
        family = self.families.get(name)
        if family is None:
            family = GaugeMetricFamily(name, documentation, labels=list(labels))
            self.families[name] = family
        family.add_metric(list(labels.values()), number)


def section_series(model: str, result: Mapping[str, Any]) -> Iterator[Metric]:
    """Gauge families for one model's latest result (the summary JSON)."""
    families = _Families()
    _add_sections(families, model, result)
    yield from families.families.values()


def _add_sections(families: _Families, model: str, result: Mapping[str, Any]) -> None:
    """The window's row count, then each registered section's series from its result."""
    families.gauge(
        "modelmon_window_rows", "Events in the current window.", {"model": model}, result.get("current_rows")
    )
    for section in sections.REGISTRY:
        if section.series is not None:
            section.series(families.gauge, model, mapping(result.get(section.name)))


def _health_series(health: Mapping[str, Any]) -> Iterator[Metric]:
    """The service's own state: health status and reasons (fixed lists), store backlog, dead letters."""
    from modelmon.service.health import REASONS

    status = GaugeMetricFamily(
        "modelmon_health_status", "1 for the current /health status.", labels=["status"]
    )
    for name in ("ok", "warming", "degraded"):
        status.add_metric([name], 1.0 if health["status"] == name else 0.0)
    reason = GaugeMetricFamily("modelmon_health_reason", "1 while a /health reason holds.", labels=["reason"])
    holding = {item["code"] for item in health["reasons"]}
    for code in REASONS:
        reason.add_metric([code], 1.0 if code in holding else 0.0)
    store = health["store"]
    yield status
    yield reason
    yield GaugeMetricFamily(
        "modelmon_store_backlog", "Accepted items not yet in the store.", value=store["backlog"]
    )
    yield GaugeMetricFamily(
        "modelmon_store_lag_seconds",
        "Age of the oldest item waiting for the store.",
        value=store["lag_seconds"],
    )
    yield CounterMetricFamily(
        "modelmon_store_dead_letters",
        "Items the store could not take, in the dead-letter file.",
        value=store["dead_lettered"],
    )
    yield CounterMetricFamily(
        "modelmon_store_write_failures", "Failed store write attempts (retried).", value=store["failures"]
    )
    yield GaugeMetricFamily(
        "modelmon_journal_damaged_records",
        "Journal records found damaged at start: skipped, their bytes in the journal's quarantine.",
        value=health["journal"]["damaged_records"],
    )


class MonitorCollector(Collector):
    """Reads every model's counters and latest results at scrape time."""

    def __init__(
        self,
        monitors: Callable[[], Iterable[ModelMonitor]],
        probes: Callable[[], Mapping[str, tuple[bool, float | None, str]]] | None = None,
        health: Callable[[], Mapping[str, Any]] | None = None,
        sections: bool = True,
    ) -> None:
        """``sections=False`` leaves out the models' section series, for an exposition that writes
        them rendered already (:mod:`modelmon.service.rendered_series`)."""
        self._monitors = monitors
        self._probes = probes
        self._health = health
        self._sections = sections

    def collect(self) -> Iterator[Metric]:
        events = CounterMetricFamily("modelmon_events", "Events accepted.", labels=["model"])
        rejected = CounterMetricFamily(
            "modelmon_events_rejected", "Events rejected.", labels=["model", "reason"]
        )
        targets = CounterMetricFamily("modelmon_targets", "Late targets received.", labels=["model"])
        refused = CounterMetricFamily(
            "modelmon_events_refused",
            "Events and targets answered 503 (not accepted; the sender keeps them), by reason.",
            labels=["model", "reason"],
        )
        section_errors = CounterMetricFamily(
            "modelmon_section_errors",
            "Window recomputes in which a section failed.",
            labels=["model", "section"],
        )
        duplicates = CounterMetricFamily(
            "modelmon_events_duplicate",
            "Events sent again with an id seen lately (stored and counted once).",
            labels=["model"],
        )
        unexpected = CounterMetricFamily(
            "modelmon_unexpected_features",
            "Feature values of columns the schema does not name (left out of the window).",
            labels=["model"],
        )
        awaiting = GaugeMetricFamily(
            "modelmon_awaiting_target",
            "Events whose record waits in the window for a late target (at most max_awaiting_target).",
            labels=["model"],
        )
        forgotten = CounterMetricFamily(
            "modelmon_awaiting_target_forgotten",
            "Records of events waiting for a target forgotten beyond max_awaiting_target, oldest first.",
            labels=["model"],
        )
        latency = HistogramMetricFamily(
            "modelmon_prediction_latency_seconds",
            "Prediction latency reported with events.",
            labels=["model"],
        )
        # one set of families for all models: the exposition format wants each name once
        latest = _Families()
        for monitor in self._monitors():
            counters = monitor.counters
            events.add_metric([monitor.name], counters.events)
            for reason, count in sorted(counters.rejected.items()):
                rejected.add_metric([monitor.name, reason], count)
            targets.add_metric([monitor.name], counters.targets)
            for reason, count in sorted(counters.refused.items()):
                refused.add_metric([monitor.name, reason], count)
            for section, count in sorted(counters.section_errors.items()):
                section_errors.add_metric([monitor.name, section], count)
            unexpected.add_metric([monitor.name], counters.unexpected_features)
            duplicates.add_metric([monitor.name], counters.duplicates)
            awaiting.add_metric([monitor.name], monitor.window.awaiting_target)
            forgotten.add_metric([monitor.name], monitor.window.forgotten)
            cumulative, buckets = 0, []
            for bound, count in zip((*LATENCY_BUCKETS, math.inf), counters.latency_counts, strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == math.inf else repr(bound), cumulative))
            latency.add_metric([monitor.name], buckets, counters.latency_sum)
            if self._sections and monitor.latest is not None:
                _add_sections(latest, monitor.name, monitor.latest)
        yield events
        yield rejected
        yield targets
        yield refused
        yield section_errors
        yield unexpected
        yield duplicates
        yield awaiting
        yield forgotten
        yield latency
        if self._health is not None:
            yield from _health_series(self._health())
        yield from latest.families.values()
        if self._probes is not None:
            up = GaugeMetricFamily(
                "modelmon_service_up", "1 when the health probe answered 2xx.", labels=["model", "service"]
            )
            seconds = GaugeMetricFamily(
                "modelmon_service_probe_seconds",
                "Duration of the last health probe.",
                labels=["model", "service"],
            )
            for service, (ok, duration, model) in sorted(self._probes().items()):
                up.add_metric([model, service], 1.0 if ok else 0.0)
                if duration is not None:
                    seconds.add_metric([model, service], duration)
            yield up
            yield seconds
