"""Concept-drift detectors fed online, as ground truth arrives.

The error of each labelled row (absolute error for regression, 0/1 for classification) goes
through the engine's detectors in arrival order: ADWIN and Page-Hinkley for regression, DDM for
classification. A detector that fires stays flagged (with the count of rows seen when it fired)
until the service restarts, so a short scrape interval cannot miss it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelmon.engine.concept.adwin import ADWIN
from modelmon.engine.concept.ddm import DDM
from modelmon.engine.concept.page_hinkley import PageHinkley
from modelmon.engine.report import not_applicable
from modelmon.schema import Schema

__all__ = ["OnlineConcept", "concept_section", "feed_concept"]


@dataclass
class OnlineConcept:
    """Detectors and what they found so far."""

    detectors: dict[str, Any]
    seen: int = 0
    detections: dict[str, list[int]] = field(default_factory=dict)
    error_sum: float = 0.0


def _errors(schema: Schema, labelled: pd.DataFrame) -> np.ndarray:
    prediction, target = labelled[schema.prediction], labelled[schema.target]
    if schema.task == "regression":
        errors = (pd.to_numeric(prediction, errors="coerce") - pd.to_numeric(target, errors="coerce")).abs()
        return errors.dropna().to_numpy(dtype=float)
    return (prediction.astype(str) != target.astype(str)).to_numpy(dtype=float)


def feed_concept(state: OnlineConcept | None, schema: Schema, labelled: pd.DataFrame) -> OnlineConcept | None:
    """Update the detectors with the errors of newly labelled rows (creating them on first use)."""
    if schema.prediction is None or schema.target is None or schema.target not in labelled.columns:
        return state
    if state is None:
        detectors: dict[str, Any] = (
            {"adwin": ADWIN(), "page_hinkley": PageHinkley()}
            if schema.task == "regression"
            else {"ddm": DDM()}
        )
        state = OnlineConcept(detectors, detections={name: [] for name in detectors})
    for error in _errors(schema, labelled):
        state.seen += 1
        state.error_sum += float(error)
        for name, detector in state.detectors.items():
            detector.update(float(error))
            if detector.drift_detected:
                state.detections[name].append(state.seen)
    return state


def concept_section(state: OnlineConcept | None, schema: Schema) -> dict[str, Any]:
    """The window's concept section: which detector fired, and at which labelled row."""
    if schema.target is None:
        return not_applicable("the schema has no target column")
    if state is None or state.seen == 0:
        return not_applicable("no ground truth received yet")
    return {
        "applicable": True,
        "labelled_rows_seen": state.seen,
        "mean_error": state.error_sum / state.seen,
        "detected": any(state.detections.values()),
        "detectors": {
            name: {"detected": bool(found), "detections": found[-20:], "count": len(found)}
            for name, found in state.detections.items()
        },
    }
