"""Concept drift: change detectors over the model's error stream, and the report section.

The detectors (one per file, written to match river's operation for operation) are
:class:`ADWIN`, :class:`PageHinkley` and :class:`DDM`; :class:`ConceptMonitor` runs the task's
detectors over an error stream and keeps their state between calls, which is how the online
service uses them. The section runs a fresh monitor over the current stream in timestamp order.

>>> import numpy as np, pandas as pd
>>> from modelmon.engine.profile import ProfileSpec
>>> from modelmon.engine.report import ReportInputs
>>> from modelmon.schema import Schema
>>> rng = np.random.default_rng(0)
>>> wrong = rng.random(2000) < np.where(np.arange(2000) < 1000, 0.1, 0.3)  # 10 % errors, then 30 %
>>> schema = Schema(task="classification", numerical=["x"], prediction="p", target="y")
>>> frame = pd.DataFrame({"x": rng.normal(size=2000), "p": 1, "y": 1 - wrong.astype(int)})
>>> spec = ProfileSpec.fit(frame.iloc[:1000], schema)
>>> inputs = ReportInputs(spec.profile(frame.iloc[:1000]), spec.profile(frame), current_stream=frame)
>>> result = concept_section(inputs)
>>> result["detected"], result["detectors"]["ddm"]["detections"][0]["index"]
(True, 1052)
>>> result["confirmed"], result["confirmed_at"]  # ADWIN agrees 35 rows later
(True, 1087)

A detection is *confirmed* (the alert the service raises, see :func:`confirmed_change`) when a
second detector also fires within ``HOLD_ROWS`` labelled rows of it, or the windowed error is
above the reference's band at some point of the ``HOLD_ROWS`` rows from it. ``confirmed_at`` is
the first row where that holds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from modelmon.engine.concept.adwin import ADWIN
from modelmon.engine.concept.band import ErrorBand
from modelmon.engine.concept.ddm import DDM
from modelmon.engine.concept.monitor import DETECTORS, ConceptMonitor, confirmed_change, error_stream
from modelmon.engine.concept.page_hinkley import PageHinkley
from modelmon.engine.report import ReportInputs, not_applicable

__all__ = [
    "ADWIN",
    "DDM",
    "DETECTORS",
    "ConceptMonitor",
    "ErrorBand",
    "PageHinkley",
    "concept_section",
    "confirmed_change",
    "error_stream",
    "labelled_errors",
]

#: labelled rows the current stream needs before the detectors are run
MIN_ROWS = 100
#: points of the error series kept for the plot
SERIES_POINTS = 200
#: labelled rows a detection stays flagged in a report, waiting for its confirmation
HOLD_ROWS = 1000


def beyond_band(band: ErrorBand, values: np.ndarray) -> np.ndarray:
    """For each position of ``values`` (fed to an empty ``band``), whether the band said "beyond" there."""
    sums = np.concatenate([[0.0], np.cumsum(values)])
    positions = np.arange(1, len(values) + 1)
    rows = np.minimum(positions, band.window)
    means = (sums[positions] - sums[positions - rows]) / rows
    upper = band.reference_mean + band.sigmas * band.reference_sd / np.sqrt(rows)
    return (rows >= band.min_rows) & (means > upper)


def first_confirmation(detections: dict[str, list[int]], beyond: np.ndarray | None) -> int | None:
    """The first row at which a detection is confirmed (see the module's docstring), or None."""
    found: list[int] = []
    for name, positions in detections.items():
        others = sorted(p for other, ps in detections.items() if other != name for p in ps)
        for position in positions:
            partner = [p for p in others if abs(p - position) < HOLD_ROWS]
            if partner:
                found.append(max(position, min(partner)))
            if beyond is not None:
                hits = np.flatnonzero(beyond[position : position + HOLD_ROWS])
                if len(hits):
                    found.append(position + int(hits[0]))
    return min(found) if found else None


def labelled_errors(
    frame: pd.DataFrame, task: str, target: str, prediction: str
) -> tuple[np.ndarray, pd.Index]:
    """Errors of the rows that have both a target and a prediction, and those rows' index."""
    if target not in frame.columns or prediction not in frame.columns:
        return np.zeros(0), frame.index[:0]
    if task == "regression":
        truth = pd.to_numeric(frame[target], errors="coerce")
        guess = pd.to_numeric(frame[prediction], errors="coerce")
        # an infinite target or prediction has no error a detector could read
        keep = np.isfinite(truth.to_numpy(dtype=float, na_value=np.nan)) & np.isfinite(
            guess.to_numpy(dtype=float, na_value=np.nan)
        )
    else:
        truth, guess = frame[target], frame[prediction]
        keep = (truth.notna() & guess.notna()).to_numpy()
    return error_stream(task, truth.to_numpy()[keep], guess.to_numpy()[keep]), frame.index[keep]


def _series(errors: np.ndarray) -> dict[str, list[float]]:
    """Mean error per bucket of consecutive rows (at most SERIES_POINTS buckets), for the plot."""
    buckets = np.array_split(np.arange(len(errors)), min(SERIES_POINTS, len(errors)))
    return {
        "index": [int(bucket[0]) for bucket in buckets],
        "error": [float(errors[bucket].mean()) for bucket in buckets],
    }


def _performance(inputs: ReportInputs, reference_errors: np.ndarray, errors: np.ndarray) -> dict[str, Any]:
    task = inputs.schema.task
    metric = "mae" if task == "regression" else "error_rate"
    # the performance part (exact counts over all rows) when the profiles carry one
    reference_part = getattr(inputs.reference.parts.get("performance"), "counts", None)
    current_part = getattr(inputs.current.parts.get("performance"), "counts", None)
    reference_value: float | None = float(reference_errors.mean()) if len(reference_errors) else None
    current_value, source = float(errors.mean()), "error stream"
    if reference_part is not None and current_part is not None and hasattr(reference_part, "metrics"):
        key = "mae" if task == "regression" else "accuracy"
        before, after = reference_part.metrics().get(key), current_part.metrics().get(key)
        if before is not None and after is not None:
            reference_value = before if task == "regression" else 1.0 - before
            current_value = after if task == "regression" else 1.0 - after
            source = "performance counts"
    change = None if reference_value is None else current_value - reference_value
    return {
        "metric": metric,
        "reference": reference_value,
        "current": current_value,
        "change": change,
        "relative_change": change / reference_value if change is not None and reference_value else None,
        "source": source,
    }


def concept_section(inputs: ReportInputs) -> dict[str, Any]:
    """Change points in the current error stream per detector, and the performance change."""
    schema = inputs.schema
    if schema.target is None or schema.prediction is None:
        return not_applicable("the schema names no target or no prediction column: concept drift needs both")
    stream = inputs.current_stream
    if stream is None:
        return not_applicable("no time-ordered current stream was kept")
    timestamp = schema.timestamp if schema.timestamp in stream.columns else None
    if timestamp is not None:
        stream = stream.sort_values(timestamp, kind="stable")
    errors, rows = labelled_errors(stream, schema.task, schema.target, schema.prediction)
    if len(errors) < MIN_ROWS:
        return not_applicable(f"{len(errors)} current rows have a target; the detectors need {MIN_ROWS}")
    reference_errors = np.zeros(0)
    if inputs.reference_sample is not None:
        reference_errors, _ = labelled_errors(
            inputs.reference_sample, schema.task, schema.target, schema.prediction
        )
    baseline = "reference sample"
    if len(reference_errors) < MIN_ROWS:
        # without reference errors the scale comes from the first fifth of the stream itself
        reference_errors, baseline = errors[: max(MIN_ROWS, len(errors) // 5)], "start of the current stream"
    monitor = ConceptMonitor.from_reference(schema.task, reference_errors)
    monitor.update(errors)
    times = stream.loc[rows, timestamp] if timestamp is not None else None
    detectors = {}
    for name, positions in monitor.detections.items():
        detectors[name] = {
            "detected": bool(positions),
            "detections": [
                {
                    "index": position,
                    "timestamp": None if times is None else pd.Timestamp(times.iloc[position]).isoformat(),
                }
                for position in positions
            ],
        }
    beyond = None if monitor.band is None else beyond_band(monitor.band, monitor.transform(errors))
    confirmed_at = first_confirmation(monitor.detections, beyond)
    return {
        "applicable": True,
        "detected": any(item["detected"] for item in detectors.values()),
        "confirmed": confirmed_at is not None,
        "confirmed_at": confirmed_at,
        "hold_rows": HOLD_ROWS,
        "task": schema.task,
        "error": "absolute error" if schema.task == "regression" else "misclassification (0/1)",
        "rows": len(errors),
        "baseline": baseline,
        "scale": {"clip": monitor.to_dict()["clip"], "scale": monitor.scale},
        "detectors": detectors,
        "performance": _performance(inputs, reference_errors, errors),
        "series": _series(errors),
    }
