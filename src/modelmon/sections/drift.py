"""Data drift: each feature's test (and each embedding set's) on the reference and current profiles."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from modelmon.sections.section import Gauge, Section, mapping

if TYPE_CHECKING:
    from modelmon.engine.report import ReportInputs

__all__ = ["SECTION"]

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


def compute(inputs: ReportInputs) -> dict[str, Any]:
    from modelmon.engine.drift import data_drift

    result = data_drift(inputs.reference, inputs.current, inputs.drift).to_dict()
    if inputs.schema.embeddings:
        result["embeddings"] = _embeddings(inputs)
    return result


def _embeddings(inputs: ReportInputs) -> dict[str, Any]:
    """Drift of each embedding set, on the row samples (the profiles do not keep coordinates jointly)."""
    if inputs.reference_sample is None or inputs.current_sample is None:
        return {
            name: {
                "applicable": False,
                "reason": "no row samples of the reference and current data were kept",
            }
            for name in inputs.schema.embeddings
        }
    from modelmon.engine.drift.embeddings import embeddings_drift

    return embeddings_drift(
        inputs.schema.embeddings,
        inputs.reference_sample,
        inputs.current_sample,
        inputs.drift,
        reference_rows=inputs.reference.rows,
    )


def series(gauge: Gauge, model: str, drift: Mapping[str, Any]) -> None:
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
        for column, info in mapping(drift.get("columns")).items():
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
    for name, info in mapping(drift.get("embeddings")).items():
        labels = {"model": model, "embedding": name, "method": str(mapping(info).get("method"))}
        gauge("modelmon_embedding_drift_score", "Drift score of an embedding set.", labels, info.get("score"))
        gauge(
            "modelmon_embedding_drift_detected",
            "1 when the embedding set drifted (not exported without enough rows).",
            {"model": model, "embedding": name},
            info.get("detected"),
        )


def fragment(drift: dict[str, Any], report: Mapping[str, Any]) -> str:
    from modelmon.render.data_health import render_drift

    return render_drift(drift, report.get("distributions"))


SECTION = Section("drift", compute, online=True, series=series, fragment=fragment)
