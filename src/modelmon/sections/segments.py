"""Performance and drift per segment value (top K values and "other")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelmon.sections.performance import MODEL_METRIC
from modelmon.sections.section import Gauge, Section, imported, mapping

__all__ = ["SECTION"]


def series(gauge: Gauge, model: str, segments: Mapping[str, Any]) -> None:
    for column, per_column in mapping(segments.get("columns")).items():
        for value, info in mapping(mapping(per_column).get("values")).items():
            for metric, number in mapping(mapping(info).get("metrics")).items():
                labels = {"model": model, "metric": metric, "segment": f"{column}={value}"}
                gauge("modelmon_model_metric", MODEL_METRIC, labels, number)
    ranking = segments.get("drift_ranking")
    for item in ranking if isinstance(ranking, list) else []:
        gauge(
            "modelmon_segment_drifted_share",
            "Share of features that drifted within a segment, against the same segment of the reference.",
            {"model": model, "segment": str(mapping(item).get("segment"))},
            mapping(item).get("drifted_share"),
        )


def fragment(segments: dict[str, Any], report: Mapping[str, Any]) -> str:
    from modelmon.render.model_health import render_segments

    return render_segments(segments)


SECTION = Section(
    "segments",
    imported("modelmon.engine.segments:segments_section"),
    parts=("segments", "segment_drift"),
    online=True,
    series=series,
    fragment=fragment,
)
