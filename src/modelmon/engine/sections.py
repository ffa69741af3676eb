"""The one table of report sections: report key -> section function, in report order.

Each entry is added here explicitly; a section module never registers itself.
"""

from __future__ import annotations

from typing import Any

from modelmon.engine.concept import concept_section
from modelmon.engine.explain import explain_section
from modelmon.engine.fairness import fairness_section
from modelmon.engine.multivariate import multivariate_section
from modelmon.engine.outliers import outliers_section
from modelmon.engine.performance import performance_section
from modelmon.engine.quality import quality_section
from modelmon.engine.report import ReportInputs, Section
from modelmon.engine.segments import segments_section

__all__ = ["SECTIONS"]


def drift_section(inputs: ReportInputs) -> dict[str, Any]:
    from modelmon.engine.drift import data_drift

    return data_drift(inputs.reference, inputs.current, inputs.drift).to_dict()


SECTIONS: dict[str, Section] = {
    "drift": drift_section,
    "quality": quality_section,
    "performance": performance_section,
    "segments": segments_section,
    "fairness": fairness_section,
    "outliers": outliers_section,
    "explain": explain_section,
    "concept": concept_section,
    "multivariate": multivariate_section,
}
