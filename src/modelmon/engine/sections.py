"""The one table of report sections: report key -> section function, in report order.

Each entry is added here explicitly; a section module never registers itself.
"""

from __future__ import annotations

from typing import Any

from modelmon.engine.quality import quality_section
from modelmon.engine.report import ReportInputs, Section

__all__ = ["SECTIONS"]


def drift_section(inputs: ReportInputs) -> dict[str, Any]:
    from modelmon.engine.drift import data_drift

    return data_drift(inputs.reference, inputs.current, inputs.drift).to_dict()


SECTIONS: dict[str, Section] = {
    "drift": drift_section,
    "quality": quality_section,
}
