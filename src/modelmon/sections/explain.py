"""Explainability: mean absolute feature attributions, reference against current."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelmon.sections.section import Gauge, Section, imported, mapping

__all__ = ["SECTION"]


def series(gauge: Gauge, model: str, explain: Mapping[str, Any]) -> None:
    for feature, value in mapping(explain.get("current")).items():
        gauge(
            "modelmon_feature_attribution",
            "Mean absolute attribution of a feature in the window.",
            {"model": model, "feature": feature},
            value,
        )


def fragment(explain: dict[str, Any], report: Mapping[str, Any]) -> str:
    from modelmon.render.model_insight import render_explain

    return render_explain(explain)


SECTION = Section(
    "explain",
    imported("modelmon.engine.explain:explain_section"),
    parts=("explain",),
    reads_rows=True,
    online=True,
    series=series,
    fragment=fragment,
)
