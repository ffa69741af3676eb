"""Incidents to inject into the demo data, each caught by one section of the monitoring report.

Every incident takes a frame from ``modelmon.demo.data``, the point ``at`` from which it applies (a row
position, or a timestamp compared with the frame's timestamp column) and a ``seed``; it returns a new
frame and leaves the input untouched. Rows before ``at`` and columns the incident does not name stay
exactly as they were. ``INCIDENTS`` is the one table the simulator and tests select them from, and
``apply_incident`` fills in sensible arguments for each demo dataset.

>>> from modelmon.demo.data import taxi_trips
>>> trips = taxi_trips(1000, seed=0)
>>> shifted = apply_incident("covariate_shift", trips, at=500)
>>> bool(shifted["trip_distance"][500:].mean() > 2 * trips["trip_distance"][500:].mean())
True
>>> shifted[:500].equals(trips[:500])
True
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from modelmon.demo import models
from modelmon.errors import ConfigError, InputError, SchemaError

__all__ = [
    "DEFAULT_ARGUMENTS",
    "INCIDENTS",
    "apply_incident",
    "bias",
    "concept_change",
    "covariate_shift",
    "dataset_of",
    "missing_spike",
    "new_categories",
    "outliers",
    "prediction_drift",
    "segment_degradation",
    "type_errors",
]

#: where an incident starts: a row position, or a time on the frame's timestamp column
At: TypeAlias = int | str | datetime | pd.Timestamp | np.datetime64


def dataset_of(df: pd.DataFrame) -> str:
    """``"taxi"`` or ``"credit"``: which demo dataset ``df`` is, told by its target column."""
    if models.TAXI_TARGET in df.columns:
        return "taxi"
    if models.CREDIT_TARGET in df.columns:
        return "credit"
    raise SchemaError(
        f"not a demo frame: expected column {models.TAXI_TARGET!r} (taxi) "
        f"or {models.CREDIT_TARGET!r} (credit)"
    )


def _from(df: pd.DataFrame, at: At) -> np.ndarray:
    """Boolean mask of the rows an incident starting at ``at`` touches."""
    if isinstance(at, bool):
        raise InputError(f"incident start {at!r} is neither a row position nor a timestamp")
    if isinstance(at, int | np.integer):
        if at < 0:
            raise InputError(f"incident start row {at} is negative")
        return np.arange(len(df)) >= at
    column = models.TAXI_TIMESTAMP if dataset_of(df) == "taxi" else models.CREDIT_TIMESTAMP
    try:
        start = pd.Timestamp(at)
    except (TypeError, ValueError) as exc:
        raise InputError(f"incident start {at!r} is neither a row position nor a timestamp") from exc
    return (df[column] >= start).to_numpy()


def _pick(mask: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of ``share`` of the rows in ``mask``, drawn without replacement."""
    if not 0.0 <= share <= 1.0:
        raise InputError(f"share {share} is not between 0 and 1")
    candidates = np.flatnonzero(mask)
    return np.sort(rng.choice(candidates, round(share * len(candidates)), replace=False))


def _columns(df: pd.DataFrame, columns: str | Sequence[str]) -> list[str]:
    names = [columns] if isinstance(columns, str) else list(columns)
    unknown = [name for name in names if name not in df.columns]
    if unknown:
        raise SchemaError(f"columns {unknown} are not in the data (it has {list(df.columns)})")
    return names


def covariate_shift(
    df: pd.DataFrame,
    columns: str | Sequence[str],
    at: At,
    shift: float = 1.0,
    scale: float = 1.0,
    category_share: float = 0.5,
    seed: int = 0,
) -> pd.DataFrame:
    """Inputs change: numerical columns move by ``shift`` standard deviations and spread ``scale`` times
    around their mean (values stay non-negative when they were); in a categorical column
    ``category_share`` of the rows switch to its rarest value. Caught by the drift section.
    """
    rng = np.random.default_rng(seed)
    rows = _from(df, at)
    shifted = df.copy()
    for column in _columns(df, columns):
        values = df[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            numbers = values.to_numpy(dtype=float, na_value=np.nan, copy=True)
            mean, std = np.nanmean(numbers), np.nanstd(numbers)
            moved = mean + (numbers - mean) * scale + shift * std
            if np.nanmin(numbers) >= 0:
                moved = np.maximum(moved, 0.0)
            if pd.api.types.is_integer_dtype(values):
                moved = np.round(moved)
            numbers[rows] = moved[rows]
            shifted[column] = pd.Series(numbers, index=df.index).astype(values.dtype)
        else:
            rarest = values.value_counts().index[-1]
            shifted.loc[shifted.index[_pick(rows, category_share, rng)], column] = rarest
    return shifted


def new_categories(df: pd.DataFrame, column: str, at: At, share: float = 0.3, seed: int = 0) -> pd.DataFrame:
    """``share`` of the rows get one of three values never seen before (new zone ids for integer
    columns, ``new_<column>_<k>`` for text). Caught by data quality (new category share) and drift.
    """
    rng = np.random.default_rng(seed)
    (column,) = _columns(df, column)
    picked = _pick(_from(df, at), share, rng)
    values = df[column]
    if pd.api.types.is_numeric_dtype(values):
        fresh: list[Any] = [int(values.max()) + k for k in (1, 2, 3)]
    else:
        fresh = [f"new_{column}_{k}" for k in (1, 2, 3)]
    changed = df.copy()
    # A plain (not object) array, so an integer column stays integer.
    changed.loc[changed.index[picked], column] = np.array(fresh)[rng.integers(0, 3, len(picked))]
    return changed


def missing_spike(
    df: pd.DataFrame, columns: str | Sequence[str], at: At, share: float = 0.3, seed: int = 0
) -> pd.DataFrame:
    """``share`` of the rows lose their value in each column (integer columns become float to hold
    NaN, as when read from a file). Caught by data quality (missing share).
    """
    rng = np.random.default_rng(seed)
    rows = _from(df, at)
    changed = df.copy()
    for column in _columns(df, columns):
        if pd.api.types.is_integer_dtype(changed[column]) or pd.api.types.is_bool_dtype(changed[column]):
            changed[column] = changed[column].astype(float)
        changed.loc[changed.index[_pick(rows, share, rng)], column] = np.nan
    return changed


def type_errors(
    df: pd.DataFrame,
    column: str,
    at: At,
    share: float = 0.1,
    seed: int = 0,
    junk: Sequence[str] = ("n/a", "?", "error"),
) -> pd.DataFrame:
    """``share`` of the rows of a numerical column hold text like "n/a"; the column becomes object
    dtype. Caught by data quality (type errors).
    """
    rng = np.random.default_rng(seed)
    (column,) = _columns(df, column)
    picked = _pick(_from(df, at), share, rng)
    values = df[column].astype(object).to_numpy(copy=True)
    values[picked] = np.array(list(junk), dtype=object)[rng.integers(0, len(junk), len(picked))]
    changed = df.copy()
    changed[column] = pd.Series(values, index=df.index, dtype=object)
    return changed


def outliers(
    df: pd.DataFrame,
    columns: str | Sequence[str],
    at: At,
    share: float = 0.02,
    magnitude: float = 10.0,
    seed: int = 0,
    keep_marker: bool = False,
) -> pd.DataFrame:
    """``share`` of the rows get values ``magnitude`` standard deviations above the mean in every named
    column (the same rows for all columns). With ``keep_marker`` a bool column ``injected_outlier``
    says which rows. Caught by the outliers section.
    """
    rng = np.random.default_rng(seed)
    picked = _pick(_from(df, at), share, rng)
    changed = df.copy()
    for column in _columns(df, columns):
        numbers = df[column].to_numpy(dtype=float, na_value=np.nan, copy=True)
        extreme = np.nanmean(numbers) + magnitude * np.nanstd(numbers) * rng.uniform(1.0, 1.5, len(picked))
        numbers[picked] = np.round(extreme) if pd.api.types.is_integer_dtype(df[column]) else extreme
        changed[column] = pd.Series(numbers, index=df.index).astype(df[column].dtype)
    if keep_marker:
        changed["injected_outlier"] = np.isin(np.arange(len(df)), picked)
    return changed


def concept_change(df: pd.DataFrame, at: At, factor: float = 1.4, seed: int = 0) -> pd.DataFrame:
    """The target's relation to the inputs changes while inputs and predictions stay (the model is
    stale). Taxi: every trip takes ``factor`` times longer for the same distance. Credit: repayment
    now depends on the number of open accounts and the region instead of income and debt. Caught by
    performance and the concept-drift detectors; the drift section sees nothing.
    """
    rows = _from(df, at)
    changed = df.copy()
    if dataset_of(df) == "taxi":
        target = df[models.TAXI_TARGET].to_numpy(dtype=float, copy=True)
        target[rows] = np.round(np.clip(target[rows] * factor, 1.0, 180.0), 2)
        changed[models.TAXI_TARGET] = target
        return changed
    rng = np.random.default_rng(seed)
    regional = df["region"].map({"north": -1.0, "south": 0.8, "east": -0.5, "west": 1.0}).fillna(0.0)
    accounts = pd.to_numeric(df["num_open_accounts"], errors="coerce").fillna(3.5)
    logit = (1.2 - 0.6 * (accounts - 3.5) + regional).to_numpy(float)
    redrawn = (rng.random(len(df)) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    target = df[models.CREDIT_TARGET].to_numpy(copy=True)
    target[rows] = redrawn[rows]
    changed[models.CREDIT_TARGET] = target
    return changed


def segment_degradation(
    df: pd.DataFrame,
    segment_column: str,
    value: Any,
    at: At,
    factor: float = 1.6,
    flip_share: float = 0.4,
    seed: int = 0,
) -> pd.DataFrame:
    """The target moves away from the predictions in one segment only: taxi durations there grow by
    ``factor``; credit outcomes there flip for ``flip_share`` of the rows. Caught by the segments
    section (the overall metrics move much less).
    """
    (segment_column,) = _columns(df, segment_column)
    rows = _from(df, at) & (df[segment_column] == value).to_numpy()
    changed = df.copy()
    if dataset_of(df) == "taxi":
        target = df[models.TAXI_TARGET].to_numpy(dtype=float, copy=True)
        target[rows] = np.round(np.clip(target[rows] * factor, 1.0, 180.0), 2)
        changed[models.TAXI_TARGET] = target
        return changed
    picked = _pick(rows, flip_share, np.random.default_rng(seed))
    target = df[models.CREDIT_TARGET].to_numpy(copy=True)
    target[picked] = 1 - target[picked]
    changed[models.CREDIT_TARGET] = target
    return changed


def bias(df: pd.DataFrame, attribute: str, group: Any, at: At, drop: float = 0.3) -> pd.DataFrame:
    """Predictions for one group of a sensitive attribute are lower than they should be: credit
    P(repaid) falls by ``drop`` (so fewer approvals), taxi durations by ``drop`` x 100 percent.
    Targets stay, so the group's error rates and approval rate move. Caught by the fairness section.
    """
    (attribute,) = _columns(df, attribute)
    rows = _from(df, at) & (df[attribute] == group).to_numpy()
    return _lower_predictions(df, rows, drop)


def prediction_drift(df: pd.DataFrame, at: At, shift: float = 0.2) -> pd.DataFrame:
    """Every prediction moves up by ``shift`` (credit: P(repaid) + shift; taxi: durations x (1 + shift))
    while inputs stay, as after deploying a broken model. Caught by drift on the prediction column.
    """
    return _lower_predictions(df, _from(df, at), -shift)


def _lower_predictions(df: pd.DataFrame, rows: np.ndarray, drop: float) -> pd.DataFrame:
    changed = df.copy()
    if dataset_of(df) == "taxi":
        duration = df[models.TAXI_PREDICTION].to_numpy(dtype=float, copy=True)
        duration[rows] = np.round(duration[rows] * (1.0 - drop), 2)
        changed[models.TAXI_PREDICTION] = duration
        return changed
    proba = df[models.CREDIT_PROBA].to_numpy(dtype=float, copy=True)
    proba[rows] = np.round(np.clip(proba[rows] - drop, 0.0, 1.0), 4)
    changed[models.CREDIT_PROBA] = proba
    prediction = df[models.CREDIT_PREDICTION].to_numpy(copy=True)
    prediction[rows] = (proba[rows] >= models.APPROVAL_THRESHOLD).astype(prediction.dtype)
    changed[models.CREDIT_PREDICTION] = prediction
    return changed


#: incident name -> function; the simulator's ``--incident NAME`` chooses from these
INCIDENTS: dict[str, Callable[..., pd.DataFrame]] = {
    "covariate_shift": covariate_shift,
    "new_categories": new_categories,
    "missing_spike": missing_spike,
    "type_errors": type_errors,
    "outliers": outliers,
    "concept_change": concept_change,
    "segment_degradation": segment_degradation,
    "bias": bias,
    "prediction_drift": prediction_drift,
}

#: dataset -> incident name -> arguments that make the incident plain to see in that dataset
DEFAULT_ARGUMENTS: dict[str, dict[str, dict[str, Any]]] = {
    "taxi": {
        "covariate_shift": {"columns": ["trip_distance", "fare_amount"], "shift": 1.5},
        "new_categories": {"column": "PULocationID", "share": 0.3},
        "missing_spike": {"columns": ["fare_amount"], "share": 0.3},
        "type_errors": {"column": "passenger_count", "share": 0.1},
        "outliers": {"columns": ["trip_distance", "fare_amount"], "share": 0.02},
        "concept_change": {"factor": 1.4},
        "segment_degradation": {"segment_column": "PULocationID", "value": 74, "factor": 1.6},
        "bias": {"attribute": "vendor", "group": "CMT", "drop": 0.3},
        "prediction_drift": {"shift": 0.3},
    },
    "credit": {
        "covariate_shift": {"columns": ["income", "debt_ratio"], "shift": -1.0},
        "new_categories": {"column": "purpose", "share": 0.3},
        "missing_spike": {"columns": ["income"], "share": 0.3},
        "type_errors": {"column": "age", "share": 0.1},
        "outliers": {"columns": ["income", "loan_amount"], "share": 0.02},
        "concept_change": {},
        "segment_degradation": {"segment_column": "region", "value": "north", "flip_share": 0.4},
        "bias": {"attribute": "gender", "group": "female", "drop": 0.3},
        "prediction_drift": {"shift": 0.2},
    },
}


def apply_incident(name: str, df: pd.DataFrame, at: At, seed: int = 0, **arguments: Any) -> pd.DataFrame:
    """Inject incident ``name`` from ``at`` with the dataset's default arguments, overridden by ``arguments``.

    ``seed`` goes to the incidents that draw rows at random; the others are deterministic anyway.

    >>> from modelmon.demo.data import credit_applications
    >>> apps = credit_applications(2000, seed=0)
    >>> biased = apply_incident("bias", apps, at=0)
    >>> women = apps["gender"] == "female"
    >>> bool(biased["prediction"][women].mean() < apps["prediction"][women].mean())
    True
    """
    if name not in INCIDENTS:
        raise ConfigError(f"unknown incident {name!r}; choose one of {sorted(INCIDENTS)}")
    incident = INCIDENTS[name]
    merged = DEFAULT_ARGUMENTS[dataset_of(df)][name] | arguments
    if "seed" in inspect.signature(incident).parameters:
        merged["seed"] = seed
    return incident(df, at=at, **merged)
