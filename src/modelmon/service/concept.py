"""Concept-drift detectors fed online, as ground truth arrives.

The errors of newly labelled rows (absolute error for regression, 0/1 for classification) go
through the engine's :class:`~modelmon.engine.concept.monitor.ConceptMonitor` in arrival order,
scaled by the reference's own errors as the batch section does. A detector that fires stays
flagged (with the labelled-row count at which it fired) until the service restarts, so a short
scrape interval cannot miss it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from modelmon.engine.concept import labelled_errors
from modelmon.engine.concept.monitor import ConceptMonitor
from modelmon.engine.report import not_applicable
from modelmon.schema import Schema

__all__ = ["concept_section", "feed_concept", "reference_errors"]


def _errors(schema: Schema, frame: pd.DataFrame) -> np.ndarray:
    assert schema.prediction is not None and schema.target is not None
    errors, _ = labelled_errors(frame, schema.task, schema.target, schema.prediction)
    return errors[np.isfinite(errors)]


def reference_errors(schema: Schema, reference: pd.DataFrame) -> np.ndarray | None:
    """The reference's error stream, or None when it has no target and prediction."""
    if schema.prediction is None or schema.target is None:
        return None
    if schema.prediction not in reference.columns or schema.target not in reference.columns:
        return None
    errors = _errors(schema, reference)
    return errors if len(errors) else None


def feed_concept(
    state: ConceptMonitor | None, schema: Schema, labelled: pd.DataFrame, reference: np.ndarray | None
) -> ConceptMonitor | None:
    """Update the detectors with the errors of newly labelled rows (creating them on first use)."""
    if schema.prediction is None or schema.target is None or schema.target not in labelled.columns:
        return state
    if state is None:
        state = (
            ConceptMonitor.from_reference(schema.task, reference)
            if reference is not None
            else ConceptMonitor(schema.task)
        )
    state.update(_errors(schema, labelled).tolist())
    return state


def concept_section(state: ConceptMonitor | None, schema: Schema) -> dict[str, Any]:
    """The window's concept section: which detector fired, and at which labelled row."""
    if schema.target is None:
        return not_applicable("the schema has no target column")
    if state is None or state.seen == 0:
        return not_applicable("no ground truth received yet")
    detections = state.detections
    return {
        "applicable": True,
        "labelled_rows_seen": state.seen,
        "detected": any(detections.values()),
        "detectors": {
            name: {"detected": bool(found), "detections": found[-20:], "count": len(found)}
            for name, found in detections.items()
        },
    }
