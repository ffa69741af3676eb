"""Model performance on the labelled rows, against the reference, and estimated without labels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelmon.sections.section import Gauge, Section, imported, mapping

__all__ = ["MODEL_METRIC", "SECTION"]

#: documentation of ``modelmon_model_metric``, which the segments section exports too
MODEL_METRIC = "Model metric on the labelled rows of the window."


def series(gauge: Gauge, model: str, performance: Mapping[str, Any]) -> None:
    for metric, value in mapping(performance.get("current")).items():
        gauge(
            "modelmon_model_metric", MODEL_METRIC, {"model": model, "metric": metric, "segment": "all"}, value
        )
    for metric, value in mapping(performance.get("reference")).items():
        gauge(
            "modelmon_reference_metric",
            "The same model metric on the reference dataset.",
            {"model": model, "metric": metric},
            value,
        )
    estimated = mapping(performance.get("estimated"))
    for metric, value in mapping(estimated.get("current", estimated)).items():
        gauge(
            "modelmon_estimated_metric",
            "Model metric estimated without labels (CBPE).",
            {"model": model, "metric": metric},
            value,
        )


def fragment(performance: dict[str, Any], report: Mapping[str, Any]) -> str:
    from modelmon.render.model_health import render_performance

    return render_performance(performance)


SECTION = Section(
    "performance",
    imported("modelmon.engine.performance_section:performance_section"),
    parts=("performance", "estimated", "dle"),
    online=True,
    series=series,
    fragment=fragment,
)
