"""Prometheus metrics of an instrumented prediction service (prometheus_client is imported when used).

Two kinds:

- the client's own state, read from each :class:`~modelmon.client.Monitor` at scrape time by
  :class:`MonitorCollector`: ``modelmon_client_queue_depth``, ``modelmon_client_spooled_events``,
  ``modelmon_client_dropped_events_total`` and ``modelmon_client_rejected_events_total`` (the dropped
  items the service refused), each labelled ``model``;
- the service's HTTP traffic, recorded by the middlewares through :class:`HttpMetrics`:
  ``modelmon_http_requests_total{endpoint,status}`` and ``modelmon_http_request_duration_seconds{endpoint}``.

>>> import pathlib, tempfile
>>> from prometheus_client import CollectorRegistry
>>> from modelmon.client import Monitor
>>> registry, folder = CollectorRegistry(), tempfile.TemporaryDirectory()
>>> monitor = Monitor("http://127.0.0.1:9", "churn", spool_path=pathlib.Path(folder.name) / "churn.jsonl")
>>> _ = register_monitor(monitor, registry)
>>> _ = monitor.log({"tenure": 3}, 0)
>>> bool(monitor.close())    # nothing listens on port 9: the event waits in the spool
True
>>> registry.get_sample_value("modelmon_client_spooled_events", {"model": "churn"})
1.0
>>> folder.cleanup()
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from modelmon.errors import require

if TYPE_CHECKING:
    from modelmon.client.monitor import Monitor

__all__ = [
    "DURATION_BUCKETS",
    "HttpMetrics",
    "MonitorCollector",
    "http_metrics",
    "metrics_page",
    "register_monitor",
]

#: Request duration buckets in seconds, from 1 ms to 10 s.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

#: Label of requests that matched no route or a route outside the ``endpoints`` given to a middleware.
OTHER_ENDPOINT = "other"


def _prometheus() -> Any:
    return require("prometheus_client", "client")


def _default_registry(registry: Any) -> Any:
    return _prometheus().REGISTRY if registry is None else registry


class MonitorCollector:
    """A prometheus_client collector that reads the counters of one or more monitors when scraped."""

    def __init__(self, monitors: Iterable[Monitor] = ()) -> None:
        self._monitors: list[Monitor] = list(monitors)

    def add(self, monitor: Monitor) -> None:
        """Also report ``monitor`` (once, however often it is added)."""
        if all(known is not monitor for known in self._monitors):
            self._monitors.append(monitor)

    def describe(self) -> Iterator[Any]:
        # Families without samples: lets a registry refuse a second collector with the same names.
        return self._families(())

    def collect(self) -> Iterator[Any]:
        return self._families(self._monitors)

    def _families(self, monitors: Iterable[Monitor]) -> Iterator[Any]:
        core = require("prometheus_client.core", "client")
        depth = core.GaugeMetricFamily(
            "modelmon_client_queue_depth", "Events waiting in memory to be sent.", labels=["model"]
        )
        spooled = core.GaugeMetricFamily(
            "modelmon_client_spooled_events", "Events waiting in the disk spool.", labels=["model"]
        )
        dropped = core.CounterMetricFamily(
            "modelmon_client_dropped_events_total",
            "Events and targets given up by the client (refused by the service, queue or spool full, "
            "values that cannot be sent).",
            labels=["model"],
        )
        rejected = core.CounterMetricFamily(
            "modelmon_client_rejected_events_total",
            "Events and targets the monitoring service refused (a wrong type, a missing field); also "
            "counted in modelmon_client_dropped_events_total.",
            labels=["model"],
        )
        for monitor in monitors:
            depth.add_metric([monitor.model], float(monitor.queue_depth))
            spooled.add_metric([monitor.model], float(monitor.spooled))
            dropped.add_metric([monitor.model], float(monitor.dropped))
            rejected.add_metric([monitor.model], float(monitor.rejected))
        yield from (depth, spooled, dropped, rejected)


_collectors: weakref.WeakKeyDictionary[Any, MonitorCollector] = weakref.WeakKeyDictionary()


def register_monitor(monitor: Monitor, registry: Any = None) -> MonitorCollector:
    """Report ``monitor``'s counters in ``registry`` (default: prometheus_client's global REGISTRY).

    One collector serves all monitors of a registry, so registering several models, or the same one
    twice, is fine.
    """
    registry = _default_registry(registry)
    collector = _collectors.get(registry)
    if collector is None:
        collector = _collectors[registry] = MonitorCollector()
        registry.register(collector)
    collector.add(monitor)
    return collector


class HttpMetrics:
    """The request counter and duration histogram of a prediction service, in one registry."""

    def __init__(self, registry: Any = None) -> None:
        prometheus = _prometheus()
        registry = _default_registry(registry)
        self.requests = prometheus.Counter(
            "modelmon_http_requests_total",
            "HTTP requests served, by endpoint and status code.",
            ["endpoint", "status"],
            registry=registry,
        )
        self.duration = prometheus.Histogram(
            "modelmon_http_request_duration_seconds",
            "Time to serve an HTTP request, by endpoint.",
            ["endpoint"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )

    def record(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        self.duration.labels(endpoint).observe(seconds)


_http_metrics: weakref.WeakKeyDictionary[Any, HttpMetrics] = weakref.WeakKeyDictionary()


def http_metrics(registry: Any = None) -> HttpMetrics:
    """The :class:`HttpMetrics` of ``registry``, made on first use (metric names are unique per registry)."""
    registry = _default_registry(registry)
    metrics = _http_metrics.get(registry)
    if metrics is None:
        metrics = _http_metrics[registry] = HttpMetrics(registry)
    return metrics


def metrics_page(registry: Any = None) -> tuple[bytes, str]:
    """The Prometheus text exposition of ``registry`` and its content type."""
    prometheus = _prometheus()
    return prometheus.generate_latest(_default_registry(registry)), prometheus.CONTENT_TYPE_LATEST


def endpoint_label(route: str | None, endpoints: frozenset[str] | None) -> str:
    """A bounded label: the route template, or ``"other"`` for no route or one outside ``endpoints``.

    >>> endpoint_label("/predict", None), endpoint_label(None, None), endpoint_label("/x", frozenset({"/y"}))
    ('/predict', 'other', 'other')
    """
    if route is None or (endpoints is not None and route not in endpoints):
        return OTHER_ENDPOINT
    return route
