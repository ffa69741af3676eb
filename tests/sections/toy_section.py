"""A toy section, written as a new section is: one module declaring one :class:`Section`.

It counts the current rows whose first numerical feature lies above the reference's mean.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING, Any

from modelmon.sections.section import Gauge, Section

if TYPE_CHECKING:
    from modelmon.engine.report import ReportInputs


def compute(inputs: ReportInputs) -> dict[str, Any]:
    column = inputs.schema.numerical[0]
    reference = inputs.reference.columns[column]
    return {"column": column, "current_rows": inputs.current.rows, "reference_mean": float(reference.mean)}


def series(gauge: Gauge, model: str, toy: Mapping[str, Any]) -> None:
    gauge("modelmon_toy_rows", "Rows the toy section saw.", {"model": model}, toy.get("current_rows"))


def fragment(toy: dict[str, Any], report: Mapping[str, Any]) -> str:
    return f'<p class="toy">toy section on {escape(str(toy["column"]))}: {toy["current_rows"]} rows</p>'


SECTION = Section("toy", compute, online=True, series=series, fragment=fragment)
