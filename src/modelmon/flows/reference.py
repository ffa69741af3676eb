"""The reference side of a batch report, fitted once and cached across runs.

Fitting the profile spec (edges, categories, the parts' state) and profiling the reference is the
same work on every run while the reference file does not change, so the result is kept in
``<reports_dir>/.cache/``, keyed by the reference file's path, modification time and size, the
model's schema and the sample size. Any change of those gives a new key, hence a fresh fit. The
cache is a pickle written by modelmon itself; like the model file, it must not come from anyone
you do not trust.

>>> import tempfile, pathlib, pandas as pd
>>> from modelmon.config import ModelConfig
>>> from modelmon.schema import Schema
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> pd.DataFrame({"distance": [1.0, 2.0, 3.0] * 10}).to_parquet(folder / "ref.parquet")
>>> model = ModelConfig("taxi", Schema(numerical=["distance"]), reference=folder / "ref.parquet")
>>> first = load_reference(model, folder / "cache")
>>> again = load_reference(model, folder / "cache")
>>> first.from_cache, again.from_cache, again.profile.rows
(False, True, 30)
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from modelmon.config import ModelConfig
from modelmon.engine.sides import ReferenceSide
from modelmon.engine.sides import wanted_columns as build_wanted_columns
from modelmon.errors import ConfigError, InputError

__all__ = [
    "CACHE_FORMAT",
    "ReferenceState",
    "cache_key",
    "check_reference",
    "load_reference",
    "wanted_columns",
]

#: bump when the cached object changes shape, so old cache files are ignored
CACHE_FORMAT = 4  # 4: the dle state carries the reference's estimate
#: rows kept from each side for the sections that need raw rows (SHAP, outliers, domain classifier)
SAMPLE_ROWS = 5_000


@dataclass
class ReferenceState(ReferenceSide):
    """The builder's fitted reference, plus which file it came from and whether the cache had it."""

    source: str = ""
    from_cache: bool = field(default=False, compare=False)


def wanted_columns(model: ModelConfig) -> list[str]:
    """Columns a report reads: monitored ones, segments, sensitive groups, id and timestamp."""
    return build_wanted_columns(model.schema)


def _reference_path(model: ModelConfig) -> Path:
    if model.reference is None:
        raise ConfigError(f"models.{model.name}.reference: a batch report needs a reference dataset")
    path = Path(model.reference)
    if not path.is_file():
        raise InputError(f"models.{model.name}.reference: {path} does not exist")
    return path.resolve()


def check_reference(model: ModelConfig) -> Path:
    """The model's reference file, once it is known to have every column the config names (a
    misspelt column is a :class:`SchemaError` naming the closest one), read from its header only."""
    from modelmon.reading.plan import columns_of

    path = _reference_path(model)
    model.check_reference_columns(*columns_of(path))
    return path


def cache_key(model: ModelConfig, sample_rows: int = SAMPLE_ROWS) -> str:
    """A hash of what the fitted reference depends on (file identity, schema, sample size)."""
    path = _reference_path(model)
    status = path.stat()
    identity = {
        "format": CACHE_FORMAT,
        "path": str(path),
        "mtime_ns": status.st_mtime_ns,
        "size": status.st_size,
        "schema": model.schema.to_dict(),
        "sample_rows": sample_rows,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:20]


def fit_reference(model: ModelConfig, sample_rows: int = SAMPLE_ROWS) -> ReferenceState:
    """Read the reference file, fit the spec and profile it (no cache)."""
    from modelmon.reading.files import read_frame

    path = check_reference(model)
    frame = read_frame(path, wanted_columns(model))
    side = ReferenceSide.fit(frame, model.schema, sample_rows=sample_rows)
    return ReferenceState(side.spec, side.profile, side.sample, side.duplicate_share, source=str(path))


def load_reference(
    model: ModelConfig, cache_dir: str | os.PathLike[str] | None, sample_rows: int = SAMPLE_ROWS
) -> ReferenceState:
    """The fitted reference, from ``cache_dir`` when a fit for the same file and schema is there.

    ``cache_dir=None`` always fits. A cache file that cannot be read is replaced, not trusted.
    """
    check_reference(model)  # a cache file of an earlier modelmon may hold a fit of a misspelt schema
    if cache_dir is None:
        return fit_reference(model, sample_rows)
    folder = Path(cache_dir)
    file = folder / f"reference-{model.name}-{cache_key(model, sample_rows)}.pkl"
    if file.is_file():
        try:
            with file.open("rb") as cached:
                state = pickle.load(cached)
            if isinstance(state, ReferenceState):
                return replace(state, from_cache=True)
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError):
            pass  # a stale or truncated cache file: fit again and overwrite it below
    state = fit_reference(model, sample_rows)
    folder.mkdir(parents=True, exist_ok=True)
    # write to a temporary file and rename, so a concurrent run never reads half a cache file
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".reference-", suffix=".tmp", delete=False) as fresh:
        pickle.dump(state, fresh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(fresh.name, file)
    for old in folder.glob(f"reference-{model.name}-*.pkl"):
        if old != file:
            old.unlink(missing_ok=True)
    return state
