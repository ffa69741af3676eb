"""The one registry of report sections, in report order.

Each section is one module of this package that declares, in one :class:`Section`, its profile
parts, its computation from two profiles, its Prometheus series, its HTML fragment and whether it
runs online. Report assembly, the window recompute, the collector and the HTML page iterate
:data:`REGISTRY`; the section modules never import it back. A new section is one new module and one
line below.

>>> [section.name for section in REGISTRY if section.online]
['drift', 'quality', 'performance', 'segments', 'fairness', 'outliers', 'explain']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelmon.sections import (
    concept,
    drift,
    explain,
    fairness,
    multivariate,
    outliers,
    performance,
    quality,
    segments,
)
from modelmon.sections.section import Section

if TYPE_CHECKING:
    from modelmon.engine.report import ReportInputs

__all__ = ["REGISTRY", "Section", "named", "run_sections"]

REGISTRY: tuple[Section, ...] = (
    drift.SECTION,
    quality.SECTION,
    performance.SECTION,
    segments.SECTION,
    fairness.SECTION,
    outliers.SECTION,
    explain.SECTION,
    concept.SECTION,
    multivariate.SECTION,
)


def named() -> dict[str, Section]:
    """The sections of :data:`REGISTRY` by name, in report order (read at each call)."""
    return {section.name: section for section in REGISTRY}


def run_sections(inputs: ReportInputs, only: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Run every registered section (or ``only`` those) and return ``{key: section result}``."""
    return {
        section.name: section.compute(inputs) for section in REGISTRY if only is None or section.name in only
    }
