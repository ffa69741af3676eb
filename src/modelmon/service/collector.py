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


#: the quality section's per-column shares, each exported as ``modelmon_<share>``
_QUALITY_SHARES = {
    "missing_share": "Share of missing values.",
    "out_of_range_share": "Share of values outside the reference range.",
    "new_category_share": "Share of values not seen in the reference.",
    "type_error_share": "Share of values of the wrong type.",
}
_MODEL_METRIC = "Model metric on the labelled rows of the window."
_DRIFT_SCORE = (
    "Drift statistic of a column: the test's statistic for a test with a p-value (ks: KS D, chisquare: "
    "chi-square, z: z), the distance for a distance test (wasserstein, jensenshannon, psi, kl_div, "
    "hellinger). Never a p-value: see modelmon_drift_p_value."
)
_DRIFT_P_VALUE = (
    "P-value of a column's drift test, for the tests that have one (ks, chisquare, z); drift when it is "
    "below modelmon_drift_threshold (its Benjamini-Hochberg adjustment, with correction: bh). Not exported "
    "for distance tests."
)
_DRIFT_THRESHOLD = (
    "What decides a column's drift: the significance level (alpha) that modelmon_drift_p_value is "
    "compared with for a test with a p-value (drift when p < alpha), else the distance that "
    "modelmon_drift_score is compared with (drift when score >= threshold)."
)


def _metric_values(section: Any) -> dict[str, Any]:
    return dict(section) if isinstance(section, Mapping) else {}


def section_series(model: str, result: Mapping[str, Any]) -> Iterator[Metric]:
    """Gauge families for one model's latest result (the summary JSON)."""
    families = _Families()
    _add_sections(families, model, result)
    yield from families.families.values()


def _add_sections(families: _Families, model: str, result: Mapping[str, Any]) -> None:
    gauge = families.gauge
    gauge(
        "modelmon_window_rows", "Events in the current window.", {"model": model}, result.get("current_rows")
    )
    drift = _metric_values(result.get("drift"))
    if drift.get("applicable", True):
        # while the window is too small for a verdict (quiet warm-up), no verdict series is exported
        warming = bool(drift.get("insufficient_data"))
        gauge(
            "modelmon_dataset_drift",
            "1 when the share of drifted features reaches the threshold.",
            {"model": model},
            None if warming else drift.get("dataset_drift"),
        )
        gauge(
            "modelmon_drifted_columns_share",
            "Share of features that drifted.",
            {"model": model},
            None if warming else drift.get("drifted_share"),
        )
        for column, info in _metric_values(drift.get("columns")).items():
            labels = {"model": model, "column": column, "method": str(info.get("method"))}
            gauge("modelmon_drift_score", _DRIFT_SCORE, labels, info.get("score"))
            gauge("modelmon_drift_p_value", _DRIFT_P_VALUE, labels, info.get("p_value"))
            gauge("modelmon_drift_threshold", _DRIFT_THRESHOLD, labels, info.get("threshold"))
            gauge(
                "modelmon_drift_detected",
                "1 when the column drifted.",
                {"model": model, "column": column},
                info.get("detected"),  # null (not exported) while the column has too few values
            )
            gauge(
                "modelmon_drift_insufficient_data",
                "1 while the column has fewer current values than its test needs for a verdict.",
                {"model": model, "column": column},
                bool(info.get("insufficient_data")),
            )
    for name, info in _metric_values(drift.get("embeddings")).items():
        labels = {"model": model, "embedding": name, "method": str(_metric_values(info).get("method"))}
        gauge("modelmon_embedding_drift_score", "Drift score of an embedding set.", labels, info.get("score"))
        gauge(
            "modelmon_embedding_drift_detected",
            "1 when the embedding set drifted (not exported without enough rows).",
            {"model": model, "embedding": name},
            info.get("detected"),
        )
    quality = _metric_values(result.get("quality"))
    for column, info in _metric_values(quality.get("columns")).items():
        labels = {"model": model, "column": column}
        for share, documentation in _QUALITY_SHARES.items():
            gauge(f"modelmon_{share}", documentation, labels, info.get(share))
    performance = _metric_values(result.get("performance"))
    for metric, value in _metric_values(performance.get("current")).items():
        gauge(
            "modelmon_model_metric",
            _MODEL_METRIC,
            {"model": model, "metric": metric, "segment": "all"},
            value,
        )
    for metric, value in _metric_values(performance.get("reference")).items():
        gauge(
            "modelmon_reference_metric",
            "The same model metric on the reference dataset.",
            {"model": model, "metric": metric},
            value,
        )
    estimated = _metric_values(performance.get("estimated"))
    for metric, value in _metric_values(estimated.get("current", estimated)).items():
        gauge(
            "modelmon_estimated_metric",
            "Model metric estimated without labels (CBPE).",
            {"model": model, "metric": metric},
            value,
        )
    segments = _metric_values(result.get("segments"))
    for column, per_column in _metric_values(segments.get("columns")).items():
        for value, info in _metric_values(_metric_values(per_column).get("values")).items():
            for metric, number in _metric_values(_metric_values(info).get("metrics")).items():
                gauge(
                    "modelmon_model_metric",
                    _MODEL_METRIC,
                    {"model": model, "metric": metric, "segment": f"{column}={value}"},
                    number,
                )
    ranking = segments.get("drift_ranking")
    for item in ranking if isinstance(ranking, list) else []:
        gauge(
            "modelmon_segment_drifted_share",
            "Share of features that drifted within a segment, against the same segment of the reference.",
            {"model": model, "segment": str(_metric_values(item).get("segment"))},
            _metric_values(item).get("drifted_share"),
        )
    fairness = _metric_values(result.get("fairness"))
    for attribute, info in _metric_values(fairness.get("attributes")).items():
        for metric in (
            "demographic_parity_difference",
            "demographic_parity_ratio",
            "equalized_odds_difference",
            "max_error_gap",
        ):
            gauge(
                "modelmon_fairness",
                "Fairness gap between groups of a sensitive attribute.",
                {"model": model, "attribute": attribute, "metric": metric},
                _metric_values(info).get(metric),
            )
    outliers = _metric_values(result.get("outliers"))
    gauge(
        "modelmon_outlier_share", "Share of outliers in the window.", {"model": model}, outliers.get("share")
    )
    explain = _metric_values(result.get("explain"))
    for feature, value in _metric_values(explain.get("current")).items():
        gauge(
            "modelmon_feature_attribution",
            "Mean absolute attribution of a feature in the window.",
            {"model": model, "feature": feature},
            value,
        )
    concept = _metric_values(result.get("concept"))
    for detector, info in _metric_values(concept.get("detectors")).items():
        gauge(
            "modelmon_concept_drift_detected",
            "1 when the detector found a change in the error stream recently (it ages out).",
            {"model": model, "detector": detector},
            _metric_values(info).get("detected"),
        )
    band = _metric_values(concept.get("band"))
    if band:
        gauge(
            "modelmon_concept_error_beyond_band",
            "1 when the windowed prediction error is above the reference's band.",
            {"model": model},
            bool(band.get("beyond")),
        )


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
    ) -> None:
        self._monitors = monitors
        self._probes = probes
        self._health = health

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
            if monitor.latest is not None:
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
