"""The current side of a batch report: a period's events profiled chunk by chunk, then the report.

The events stream from the store in chunks; each chunk is renamed to the schema's columns,
profiled, and offered to bounded keepers (a uniform sample and a time-ordered stream for the
sections that need raw rows). Only the profile, the keepers and one 8-byte hash per row (to count
duplicates) stay in memory, so memory does not grow with the rows of the period beyond that.

>>> import pandas as pd
>>> from modelmon.config import ModelConfig
>>> from modelmon.flows.reference import fit_reference
>>> from modelmon.schema import Schema
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> pd.DataFrame({"distance": [1.0, 2.0, 3.0] * 40}).to_parquet(folder / "ref.parquet")
>>> model = ModelConfig("taxi", Schema(numerical=["distance"]), reference=folder / "ref.parquet")
>>> reference = fit_reference(model)
>>> current = CurrentProfile(model, reference)
>>> for start in (0, 60):
...     current.update(pd.DataFrame({"distance": [7.0, 8.0, 9.0] * 20}))
>>> report = current.report()
>>> report.current_rows, report.sections["drift"]["columns"]["distance"]["detected"]
(120, True)
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from modelmon.config import ModelConfig
from modelmon.engine.report import headline_numbers
from modelmon.engine.result import Report
from modelmon.engine.sides import CurrentSide
from modelmon.flows.frames import store_frame_to_schema
from modelmon.flows.reference import SAMPLE_ROWS, ReferenceState

__all__ = ["STREAM_ROWS", "CurrentProfile", "headline_metrics", "load_model_file", "report_paths"]

#: rows of the time-ordered (timestamp, prediction, target) stream kept for the concept detectors
STREAM_ROWS = 20_000


class CurrentProfile(CurrentSide):
    """The builder's current side for one model's period, fed from the store; :meth:`report` finishes it."""

    def __init__(self, model: ModelConfig, reference: ReferenceState, sample_rows: int = SAMPLE_ROWS) -> None:
        super().__init__(reference, sample_rows=sample_rows, stream_rows=STREAM_ROWS)
        self.model = model
        self.chunks = 0

    def update(self, chunk: pd.DataFrame, first_row: int | None = None) -> None:
        """Add one chunk already in the schema's column names."""
        super().update(chunk, first_row)
        self.chunks += 1

    def update_from_store(self, frames: Iterable[pd.DataFrame], first_row: int | None = None) -> None:
        """Add every frame of :meth:`EventStore.read_frames`, renamed to the schema's columns;
        ``first_row`` is the position of the first event in the whole period (a sub-period's)."""
        for frame in frames:
            self.update(store_frame_to_schema(frame, self.model.schema), first_row)
            first_row = None

    def __add__(self, other: CurrentSide) -> CurrentProfile:
        total = super().__add__(other)
        if not isinstance(total, CurrentProfile) or not isinstance(other, CurrentProfile):
            return NotImplemented
        total.chunks = self.chunks + other.chunks
        return total

    def report(self, estimator: Any = None, **options: Any) -> Report:
        """Run every section of the engine over the reference and what was added so far."""
        return super().report(drift=self.model.drift, model=estimator, options=options or None)


def load_model_file(path: str | os.PathLike[str] | None) -> Any:
    """The estimator of a config's ``model_file`` (joblib or pickle), or ``None`` when none is named.

    Unpickling runs code: name only model files you wrote yourself or otherwise trust.
    """
    if path is None:
        return None
    from modelmon.reading.plan import load_model

    return load_model(path)  # the loader (and its errors) of build_report and the service


def headline_metrics(report: Mapping[str, Any]) -> dict[str, float]:
    """The numbers of a report JSON pushed into the metric history, named ``batch.<what>`` (NaN left out).

    >>> headline_metrics({"current_rows": 10, "drift": {"dataset_drift": True, "drifted_share": 0.5,
    ...                   "columns": {"x": {"score": 0.3}}}, "performance": {"current": {"mae": 1.5}}})
    {'batch.current_rows': 10.0, 'batch.dataset_drift': 1.0, 'batch.drifted_share': 0.5, \
'batch.drift_score.x': 0.3, 'batch.metric.mae': 1.5}
    """
    return {
        f"batch.{name}": value for name, value in headline_numbers(report).items() if not math.isnan(value)
    }


def report_paths(reports_dir: Path, model: str, start: datetime, end: datetime) -> tuple[Path, Path]:
    """``<reports_dir>/<model>/<start>_<end>.json`` and ``.html``."""
    from modelmon.flows.periods import period_label

    stem = reports_dir / model / period_label(start, end)
    return stem.with_suffix(".json"), stem.with_suffix(".html")
