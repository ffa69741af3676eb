"""Outliers: the share of current rows an isolation forest fitted on the reference sets apart."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelmon.sections.section import Gauge, Section, imported

__all__ = ["SECTION"]


def series(gauge: Gauge, model: str, outliers: Mapping[str, Any]) -> None:
    gauge(
        "modelmon_outlier_share", "Share of outliers in the window.", {"model": model}, outliers.get("share")
    )


def fragment(outliers: dict[str, Any], report: Mapping[str, Any]) -> str:
    from modelmon.render.model_insight import render_outliers

    return render_outliers(outliers)


SECTION = Section(
    "outliers",
    imported("modelmon.engine.outliers:outliers_section"),
    parts=("outliers",),
    reads_rows=True,
    online=True,
    series=series,
    fragment=fragment,
)
