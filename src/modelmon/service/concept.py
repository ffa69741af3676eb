"""Concept-drift detectors fed online, as ground truth arrives.

The errors of newly labelled rows (absolute error for regression, 0/1 for classification) go
through the engine's :class:`~modelmon.engine.concept.monitor.ConceptMonitor` in arrival order,
scaled by the reference's own errors as the batch section does.

What is exported, and for how long:

- a detector that fires starts afresh (as river's do) and its flag ``detected`` stays up for
  ``HOLD_SECONDS`` (30 minutes) after its latest detection, then ages out: a short scrape interval
  cannot miss it, and a chance alarm does not stay pending until the service restarts;
- ``band``: the mean of the last 500 labelled errors against the reference's band
  (:class:`~modelmon.engine.concept.band.ErrorBand`);
- ``confirmed``: two detectors flagged at once, or one flagged while the error is beyond its band
  (:func:`~modelmon.engine.concept.monitor.confirmed_change`). The default alert
  ``ModelmonConceptDrift`` evaluates the same rule on the exported series.

After a restart, :func:`rebuild_concept` replays the labelled rows kept in the store (oldest first)
through fresh detectors, so detections, their ages and the band are what they were.

>>> import pandas as pd
>>> from modelmon.schema import Schema
>>> schema = Schema(task="classification", numerical=["x"], prediction="p", target="y")
>>> reference = reference_errors(schema, pd.DataFrame({"p": [1] * 900 + [0] * 100, "y": 1}))
>>> labelled = pd.DataFrame({"p": 1, "y": [1] * 2000 + [0, 0, 1] * 400})  # all right, then 67 % wrong
>>> state = rebuild_concept(schema, labelled, reference, times=np.arange(3200.0), now=3200.0)
>>> section = concept_section(state, schema, now=3200.0)
>>> section["confirmed"], section["detectors"]["ddm"]["detections"][0]
(True, 2000)
>>> concept_section(state, schema, now=3200.0 + HOLD_SECONDS + 1)["confirmed"]  # aged out
False
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelmon.engine.concept import labelled_errors
from modelmon.engine.concept.monitor import ConceptMonitor, confirmed_change
from modelmon.engine.report import not_applicable
from modelmon.schema import Schema

__all__ = [
    "HOLD_SECONDS",
    "ConceptState",
    "concept_section",
    "feed_concept",
    "rebuild_concept",
    "reference_errors",
]

#: seconds a detector's flag stays up after its latest detection
HOLD_SECONDS = 1800.0


@dataclass
class ConceptState:
    """The detectors of one model and when each last fired (epoch seconds)."""

    monitor: ConceptMonitor
    last_detection: dict[str, float] = field(default_factory=dict)

    @property
    def seen(self) -> int:
        return self.monitor.seen

    def flags(self, now: float) -> dict[str, bool]:
        """Whether each detector fired within the last ``HOLD_SECONDS``."""
        return {
            name: name in self.last_detection and now - self.last_detection[name] <= HOLD_SECONDS
            for name in self.monitor.detections
        }

    def confirmed(self, now: float) -> bool:
        band = self.monitor.band
        return confirmed_change(self.flags(now), beyond_band=band is not None and band.beyond)


def _errors(schema: Schema, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Finite errors of the labelled rows, and the positions of those rows in ``frame``."""
    assert schema.prediction is not None and schema.target is not None
    errors, rows = labelled_errors(frame, schema.task, schema.target, schema.prediction)
    positions = frame.index.get_indexer(rows)
    finite = np.isfinite(errors)
    return errors[finite], positions[finite]


def reference_errors(schema: Schema, reference: pd.DataFrame) -> np.ndarray | None:
    """The reference's error stream, or None when it has no target and prediction."""
    if schema.prediction is None or schema.target is None:
        return None
    if schema.prediction not in reference.columns or schema.target not in reference.columns:
        return None
    errors, _ = _errors(schema, reference.reset_index(drop=True))
    return errors if len(errors) else None


def feed_concept(
    state: ConceptState | None,
    schema: Schema,
    labelled: pd.DataFrame,
    reference: np.ndarray | None,
    now: float,
    times: np.ndarray | None = None,
) -> ConceptState | None:
    """Update the detectors with the errors of newly labelled rows (creating them on first use).

    A detection is dated by ``times`` (epoch seconds, one per row of ``labelled``) when given,
    else by ``now``.
    """
    if schema.prediction is None or schema.target is None or schema.target not in labelled.columns:
        return state
    if state is None:
        monitor = (
            ConceptMonitor.from_reference(schema.task, reference)
            if reference is not None
            else ConceptMonitor(schema.task)
        )
        state = ConceptState(monitor)
    frame = labelled.reset_index(drop=True)
    errors, positions = _errors(schema, frame)
    start = state.monitor.seen
    for name, position in state.monitor.update(errors):
        when = now if times is None else float(np.asarray(times, dtype=float)[positions[position - start]])
        state.last_detection[name] = max(when, state.last_detection.get(name, when))
    return state


def rebuild_concept(
    schema: Schema,
    labelled: pd.DataFrame,
    reference: np.ndarray | None,
    *,
    now: float,
    times: np.ndarray | None = None,
) -> ConceptState | None:
    """Detector state rebuilt from every labelled row kept (oldest first), as after a restart.

    ``times`` (epoch seconds per row, e.g. the events' timestamps) dates the detections so that
    old ones have aged out; without it every detection is dated ``now``.
    """
    return feed_concept(None, schema, labelled, reference, now=now, times=times)


def concept_section(state: ConceptState | None, schema: Schema, now: float) -> dict[str, Any]:
    """The window's concept section: which detector fired recently, and whether a change is confirmed."""
    if schema.target is None:
        return not_applicable("the schema has no target column")
    if state is None or state.seen == 0:
        return not_applicable("no ground truth received yet")
    detections = state.monitor.detections
    flags = state.flags(now)
    band = state.monitor.band
    return {
        "applicable": True,
        "labelled_rows_seen": state.seen,
        "detected": any(flags.values()),
        "confirmed": state.confirmed(now),
        "hold_seconds": HOLD_SECONDS,
        "band": None if band is None else band.to_dict(),
        "detectors": {
            name: {
                "detected": flags[name],
                "detections": found[-20:],
                "count": len(found),
                "last_detection_age_seconds": (
                    now - state.last_detection[name] if name in state.last_detection else None
                ),
            }
            for name, found in detections.items()
        },
    }
