"""Model-level parts of a profile, registered in one table.

Column summaries live in :mod:`modelmon.engine.columns`. Everything else a profile carries
(performance counts, per-segment and per-group counts, outlier counts, attribution sums) is a
*part*: a small mergeable object with the protocol below. ``fit`` runs once on the reference and
returns the state the part needs later (or ``None`` when the part does not apply to this schema);
``build`` summarises one frame against that state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from modelmon.engine.dle import DLEPart
from modelmon.engine.estimated import EstimatedPart
from modelmon.engine.explain import AttributionSums
from modelmon.engine.fairness import FairnessPart
from modelmon.engine.outliers import OutlierCounts
from modelmon.engine.performance import PerformancePart
from modelmon.engine.segment_drift import SegmentDriftPart
from modelmon.engine.segments import SegmentsPart

if TYPE_CHECKING:
    import pandas as pd

    from modelmon.engine.profile import ProfileSpec

__all__ = ["PART_TYPES", "Part"]


class Part(Protocol):
    """A mergeable model-level summary."""

    @classmethod
    def fit(cls, reference: pd.DataFrame, spec: ProfileSpec) -> Any | None: ...

    @classmethod
    def build(cls, frame: pd.DataFrame, spec: ProfileSpec) -> Part | None: ...

    def __add__(self, other: Any) -> Any: ...

    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Part: ...


#: part name -> part type; the order is the order parts are built and reported in
PART_TYPES: dict[str, type[Part]] = {
    "outliers": OutlierCounts,
    "explain": AttributionSums,
    "performance": PerformancePart,
    "estimated": EstimatedPart,
    "dle": DLEPart,
    "segments": SegmentsPart,
    "segment_drift": SegmentDriftPart,
    "fairness": FairnessPart,
}
