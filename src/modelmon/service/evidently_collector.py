"""Evidently's old monitoring-service series, for the models whose config asks for them.

A model with ``compat:`` in its config (every model of an Evidently ``config.yaml``) also gets
the old ``evidently:<monitor>:<metric>`` gauges of the monitors it names, labelled
``dataset_name`` (the model's name) as the old service labelled them, and
``evidently:reference_dataset_hash{hash}``. Their values are computed, when Prometheus scrapes,
from the window the last recompute left (see :mod:`modelmon.compat.evidently_series` for what
each one means), and cached until the next recompute.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from modelmon.compat import evidently_series as series

if TYPE_CHECKING:
    from modelmon.service.model_monitor import ModelMonitor

__all__ = ["EvidentlyCollector", "reference_hash"]


def reference_hash(monitor: ModelMonitor) -> str:
    """SHA-256 of the reference file (of the reference profile's spec when it came as a frame)."""
    path = monitor.config.reference
    digest = hashlib.sha256()
    if path is not None and Path(path).is_file():
        with Path(path).open("rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    else:
        digest.update(monitor.spec.fingerprint.encode())
    return digest.hexdigest()


def monitor_samples(monitor: ModelMonitor, view: tuple[Any, Any]) -> list[series.Sample]:
    """The old series of one model's configured monitors, for one window view (profile, sample)."""
    current, current_sample = view
    reference, reference_sample = monitor.reference, monitor.reference_sample
    wanted = monitor.config.compat or ()
    samples: list[series.Sample] = []
    if current.rows == 0:
        return samples
    if "data_drift" in wanted:
        samples += series.data_drift(reference, current)
    if "num_target_drift" in wanted:
        samples += series.num_target_drift(reference, current, reference_sample, current_sample)
    if "cat_target_drift" in wanted:
        samples += series.cat_target_drift(reference, current)
    if "regression_performance" in wanted:
        samples += series.regression_performance(reference, current, reference_sample, current_sample)
    if "classification_performance" in wanted:
        samples += series.classification_performance(reference, current)
    return samples


class EvidentlyCollector(Collector):
    """The old series of every model with ``compat:``, read at scrape time."""

    def __init__(self, monitors: Callable[[], Iterable[ModelMonitor]]) -> None:
        self._monitors = monitors
        self._cache: dict[str, tuple[int, list[series.Sample]]] = {}
        self._hashes: dict[str, str] = {}

    def _samples(self, monitor: ModelMonitor) -> list[series.Sample]:
        view = getattr(monitor, "window_view", None)
        if view is None:
            return []
        cached = self._cache.get(monitor.name)
        if cached is None or cached[0] != id(view):
            cached = (id(view), monitor_samples(monitor, view))
            self._cache[monitor.name] = cached
        return cached[1]

    def collect(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily] = {}

        def add(name: str, labels: dict[str, str], value: float) -> None:
            family = families.get(name)
            names = sorted(labels)  # as the old service: label names sorted
            if family is None:
                family = GaugeMetricFamily(
                    f"evidently:{name}", "Evidently monitoring-service series.", labels=names
                )
                families[name] = family
            family.add_metric([labels[key] for key in names], value)

        for monitor in self._monitors():
            if not monitor.config.compat:
                continue
            if monitor.name not in self._hashes:
                self._hashes[monitor.name] = reference_hash(monitor)
            add(
                "reference_dataset_hash",
                {"dataset_name": monitor.name, "hash": self._hashes[monitor.name]},
                1.0,
            )
            for name, labels, value in self._samples(monitor):
                if value == value:  # NaN: the old service could not export it either
                    add(name, {**labels, "dataset_name": monitor.name}, value)
        yield from families.values()
