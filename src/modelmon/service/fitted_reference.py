"""A model's reference as the service uses it: read, completed and fitted once, then shared.

Teams monitor one model per region or per customer tier, often all against the same reference file.
Reading and fitting it (edges, categories, the outlier forest, the performance parts) takes about a
second; :class:`ReferenceCache` does it once for every model that names the same file with the same
schema and model file, and those models share the result, which is never modified after it is fitted.

>>> import tempfile
>>> from modelmon.schema import Schema
>>> path = Path(tempfile.mkdtemp()) / "reference.csv"
>>> pd.DataFrame({"distance": [1.0, 2.0, 3.0], "duration": [5.0, 9.0, 14.0]}).to_csv(path, index=False)
>>> schema = Schema(numerical=["distance"], prediction="duration")
>>> cache = ReferenceCache()
>>> north = cache.get(ModelConfig("north", schema, reference=path))
>>> south = cache.get(ModelConfig("south", schema, reference=path))
>>> north is south, cache.fitted, north.profile.rows
(True, 1, 3)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelmon.config import ModelConfig
from modelmon.engine.profile import Profile, ProfileSpec
from modelmon.errors import ConfigError
from modelmon.reading.plan import load_model
from modelmon.service.reference import complete_reference

__all__ = ["FittedReference", "ReferenceCache", "fit_reference", "load_reference"]

#: raw reference rows kept for the sections that read rows (outliers, SHAP, the old series)
SAMPLE_ROWS = 2000


def load_reference(config: ModelConfig) -> pd.DataFrame:
    """Read a model's reference dataset (parquet or CSV)."""
    if config.reference is None:
        raise ConfigError(f"models.{config.name}.reference: a reference dataset is needed to monitor drift")
    from modelmon.reading.files import read_frame

    return read_frame(config.reference)


@dataclass(frozen=True)
class FittedReference:
    """What a monitor reads of its reference: the spec its window is profiled against, the
    reference's profile and row sample, the reference's error stream, the model and the notes."""

    spec: ProfileSpec
    profile: Profile
    sample: pd.DataFrame
    errors: np.ndarray | None
    model: Any
    notes: list[str]


def fit_reference(config: ModelConfig, frame: pd.DataFrame | None = None) -> FittedReference:
    """Read (unless ``frame`` is given), complete and fit one model's reference."""
    from modelmon.reading.plan import columns_of
    from modelmon.service.concept import reference_errors

    frame = frame if frame is not None else load_reference(config)
    config.check_reference_columns(*columns_of(frame))
    model = load_model(config.model_file) if config.model_file is not None else None
    frame, notes = complete_reference(frame, config, model)
    spec, profile = ProfileSpec.fit_profile(frame, config.schema)
    sample = frame.sample(min(len(frame), SAMPLE_ROWS), random_state=0) if len(frame) else frame
    return FittedReference(spec, profile, sample, reference_errors(config.schema, frame), model, notes)


class ReferenceCache:
    """Fitted references by what they depend on: the file (path, size, modification time), the
    schema and the model file."""

    def __init__(self) -> None:
        self._fitted: dict[str, FittedReference] = {}
        #: references fitted so far (shared ones once)
        self.fitted = 0

    def get(self, config: ModelConfig) -> FittedReference:
        """The fitted reference of ``config``'s file, fitted now unless an earlier model shares it."""
        key = self._key(config)
        if key not in self._fitted:
            self._fitted[key] = fit_reference(config)
            self.fitted += 1
        return self._fitted[key]

    @staticmethod
    def _key(config: ModelConfig) -> str:
        if config.reference is None:
            raise ConfigError(
                f"models.{config.name}.reference: a reference dataset is needed to monitor drift"
            )
        path = Path(config.reference)
        stat = path.stat() if path.is_file() else None
        return json.dumps(
            [
                str(path.resolve()),
                None if stat is None else [stat.st_size, stat.st_mtime_ns],
                config.schema.to_dict(),
                None if config.model_file is None else str(Path(config.model_file).resolve()),
            ],
            sort_keys=True,
            default=str,
        )
