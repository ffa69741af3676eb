"""Fairness: gaps of the model's behaviour between the groups of each sensitive attribute."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelmon.sections.section import Gauge, Section, imported, mapping

__all__ = ["SECTION"]

#: the gaps exported per attribute as ``modelmon_fairness{metric}``
METRICS = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "max_error_gap",
)


def series(gauge: Gauge, model: str, fairness: Mapping[str, Any]) -> None:
    for attribute, info in mapping(fairness.get("attributes")).items():
        for metric in METRICS:
            gauge(
                "modelmon_fairness",
                "Fairness gap between groups of a sensitive attribute.",
                {"model": model, "attribute": attribute, "metric": metric},
                mapping(info).get(metric),
            )


def fragment(fairness: dict[str, Any], report: Mapping[str, Any]) -> str:
    from modelmon.render.model_health import render_fairness

    return render_fairness(fairness)


SECTION = Section(
    "fairness",
    imported("modelmon.engine.fairness:fairness_section"),
    parts=("fairness",),
    online=True,
    series=series,
    fragment=fragment,
)
