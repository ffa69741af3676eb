"""Report assembly: every section of the engine run over a reference and a current dataset.

A section is a function ``(ReportInputs) -> dict`` registered in ``modelmon.engine.sections``. It reads the
two profiles (mergeable, exact counts) and, where a statistic needs raw rows (a domain
classifier, SHAP, outlier scores, the ordered error stream), the bounded row samples. A section
that does not apply returns ``{"applicable": False, "reason": "..."}`` so the report always has
every key and says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelmon.config import DriftSettings
from modelmon.schema import Schema

if TYPE_CHECKING:
    from modelmon.engine.profile import Profile

__all__ = ["ReportInputs", "headline_numbers", "not_applicable"]


@dataclass
class ReportInputs:
    """Everything a section may read.

    ``reference_sample`` / ``current_sample`` are bounded uniform samples of raw rows (at most
    ``sample_rows`` each); ``current_stream`` is the current data's (timestamp, error-relevant)
    columns in time order, bounded as well, for detectors over the error stream. ``model`` is a
    fitted estimator when one was given (for SHAP).
    """

    reference: Profile
    current: Profile
    reference_sample: pd.DataFrame | None = None
    current_sample: pd.DataFrame | None = None
    current_stream: pd.DataFrame | None = None
    #: the outlier score of each row of ``current_sample`` when the caller kept them as the rows
    #: came (the online window scores each kept row once), so the section does not score them again
    current_sample_scores: np.ndarray | None = None
    drift: DriftSettings = field(default_factory=DriftSettings)
    model: Any = None
    options: Mapping[str, Any] = field(default_factory=dict)
    #: state a section keeps from one computation to the next over the same reference (the online
    #: window's recomputes pass the same dict each time), keyed by section; ``None`` keeps nothing
    memo: dict[str, Any] | None = None

    @property
    def schema(self) -> Schema:
        return self.reference.spec.schema


def not_applicable(reason: str, **extra: Any) -> dict[str, Any]:
    """The body of a section that does not apply, saying why."""
    return {"applicable": False, "reason": reason, **extra}


def headline_numbers(result: Mapping[str, Any], rows_name: str = "current_rows") -> dict[str, float]:
    """The headline numbers of a report or window result, as flat metric-history names (NaN kept).

    >>> headline_numbers({"current_rows": 10, "drift": {"dataset_drift": True, "drifted_share": 0.5}})
    {'current_rows': 10.0, 'dataset_drift': 1.0, 'drifted_share': 0.5}
    """
    values: dict[str, float] = {}

    def put(name: str, value: Any) -> None:
        if isinstance(value, int | float):  # bool is an int
            values[name] = float(value)

    put(rows_name, result.get("current_rows"))
    drift = result.get("drift") or {}
    put("dataset_drift", drift.get("dataset_drift"))
    put("drifted_share", drift.get("drifted_share"))
    for column, info in (drift.get("columns") or {}).items():
        put(f"drift_score.{column}", (info or {}).get("score"))
    for metric, value in ((result.get("performance") or {}).get("current") or {}).items():
        put(f"metric.{metric}", value)
    put("outlier_share", (result.get("outliers") or {}).get("share"))
    for column, info in ((result.get("quality") or {}).get("columns") or {}).items():
        put(f"missing_share.{column}", (info or {}).get("missing_share"))
    return values
