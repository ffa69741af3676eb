"""Data quality: missing values, type errors, values out of the reference's range, new categories."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelmon.sections.section import Gauge, Section, imported, mapping

__all__ = ["SECTION"]

#: the per-column shares, each exported as ``modelmon_<share>``
SHARES = {
    "missing_share": "Share of missing values.",
    "out_of_range_share": "Share of values outside the reference range.",
    "new_category_share": "Share of values not seen in the reference.",
    "type_error_share": "Share of values of the wrong type.",
}


def series(gauge: Gauge, model: str, quality: Mapping[str, Any]) -> None:
    for column, info in mapping(quality.get("columns")).items():
        labels = {"model": model, "column": column}
        for share, documentation in SHARES.items():
            gauge(f"modelmon_{share}", documentation, labels, info.get(share))


def fragment(quality: dict[str, Any], report: Mapping[str, Any]) -> str:
    from modelmon.render.data_health import render_quality

    return render_quality(quality)


SECTION = Section(
    "quality",
    imported("modelmon.engine.quality:quality_section"),
    online=True,
    series=series,
    fragment=fragment,
)
