"""Example models for the demo datasets, and the column names the service and simulator share.

Both models are scikit-learn pipelines of gradient-boosted trees; they train on 20k rows in about a
second on two cores, tolerate missing values, unseen categories and non-numeric junk in numerical
columns (turned into missing values), so a data incident degrades them instead of crashing them.

>>> from modelmon.demo.data import taxi_trips
>>> trips = taxi_trips(2000, seed=0)
>>> model = train_taxi_model(trips)
>>> scored = predict_frame(model, taxi_trips(5, seed=1), "regression")
>>> bool(scored["duration"].gt(0).all())
True
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder
from sklearn.utils.metaestimators import available_if
from threadpoolctl import threadpool_limits

from modelmon.errors import ConfigError, InputError, SchemaError

__all__ = [
    "APPROVAL_THRESHOLD",
    "CREDIT_CATEGORICAL",
    "CREDIT_ID",
    "CREDIT_NUMERICAL",
    "CREDIT_PREDICTION",
    "CREDIT_PROBA",
    "CREDIT_SENSITIVE",
    "CREDIT_TARGET",
    "CREDIT_TIMESTAMP",
    "TAXI_CATEGORICAL",
    "TAXI_ID",
    "TAXI_NUMERICAL",
    "TAXI_PREDICTION",
    "TAXI_TARGET",
    "TAXI_TIMESTAMP",
    "SingleThreadPipeline",
    "clean_features",
    "load_model",
    "predict_frame",
    "save_model",
    "train_credit_model",
    "train_taxi_model",
]

TAXI_NUMERICAL = [
    "trip_distance",
    "fare_amount",
    "tip_amount",
    "tolls_amount",
    "passenger_count",
    "pickup_hour",
    "pickup_weekday",
]
TAXI_CATEGORICAL = ["PULocationID", "DOLocationID", "payment_type", "vendor"]
TAXI_TARGET = "duration_actual"
TAXI_PREDICTION = "duration"
TAXI_ID = "ride_id"
TAXI_TIMESTAMP = "pickup_time"

CREDIT_NUMERICAL = [
    "age",
    "income",
    "debt_ratio",
    "credit_history_months",
    "loan_amount",
    "num_open_accounts",
]
CREDIT_CATEGORICAL = ["employment", "housing", "purpose", "region"]
#: protected attributes: monitored for fairness, never given to the model
CREDIT_SENSITIVE = ["gender", "age_group"]
CREDIT_TARGET = "repaid"
CREDIT_PREDICTION = "prediction"
CREDIT_PROBA = "proba"
CREDIT_ID = "application_id"
CREDIT_TIMESTAMP = "applied_at"

#: approve (predict "repaid") at or above this probability
APPROVAL_THRESHOLD = 0.5


def _category_text(values: pd.Series) -> np.ndarray:
    # One spelling per category whatever the dtype: zone 7 read back as 7.0 after a missing spike is "7".
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        integral = np.isfinite(numbers) & (numbers == np.round(numbers))
        text = np.where(integral, np.nan_to_num(numbers).astype(np.int64).astype(str), numbers.astype(str))
        return np.where(np.isnan(numbers), "missing", text).astype(object)
    return values.astype(object).where(values.notna(), "missing").astype(str).to_numpy(dtype=object)


def clean_features(frame: pd.DataFrame, numerical: list[str], categorical: list[str]) -> pd.DataFrame:
    """The model's input: numbers as floats (junk such as "n/a" becomes NaN), categories as text.

    >>> clean_features(pd.DataFrame({"x": ["1.5", "n/a"], "zone": [7.0, None]}), ["x"], ["zone"])
         x     zone
    0  1.5        7
    1  NaN  missing
    """
    missing = [column for column in numerical + categorical if column not in frame.columns]
    if missing:
        raise SchemaError(f"the model needs columns {missing} that the data does not have")
    cleaned = {column: pd.to_numeric(frame[column], errors="coerce").astype(float) for column in numerical}
    cleaned |= {column: _category_text(frame[column]) for column in categorical}
    return pd.DataFrame(cleaned, index=frame.index)


class SingleThreadPipeline(Pipeline):
    """A Pipeline that fits and predicts on one OpenMP thread.

    OpenMP threads spin while they wait; on a small, busy machine (CI, a laptop running the whole demo
    stack) that makes these small fits and predictions 10-30x slower than one thread.
    """

    def fit(self, X: Any, y: Any = None, **params: Any) -> SingleThreadPipeline:
        with threadpool_limits(limits=1, user_api="openmp"):
            return super().fit(X, y, **params)

    def predict(self, X: Any, **params: Any) -> np.ndarray:
        with threadpool_limits(limits=1, user_api="openmp"):
            return super().predict(X, **params)

    # Only where the final step has it, so ``hasattr(model, "predict_proba")`` still tells a classifier.
    @available_if(lambda self: hasattr(self._final_estimator, "predict_proba"))
    def predict_proba(self, X: Any, **params: Any) -> np.ndarray:
        with threadpool_limits(limits=1, user_api="openmp"):
            return super().predict_proba(X, **params)


def _pipeline(estimator: object, numerical: list[str], categorical: list[str]) -> Pipeline:
    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan
    )
    columns = ColumnTransformer(
        [("categories", encoder, categorical), ("numbers", "passthrough", numerical)],
        verbose_feature_names_out=False,
    )
    return SingleThreadPipeline(
        [
            (
                "clean",
                FunctionTransformer(
                    clean_features, kw_args={"numerical": numerical, "categorical": categorical}
                ),
            ),
            ("columns", columns),
            ("model", estimator),
        ]
    )


def _categorical_mask(numerical: list[str], categorical: list[str]) -> list[bool]:
    return [True] * len(categorical) + [False] * len(numerical)


def train_taxi_model(reference: pd.DataFrame, seed: int = 0) -> Pipeline:
    """Fit a trip-duration regressor (``duration_actual`` from the TAXI_* features)."""
    estimator = HistGradientBoostingRegressor(
        max_iter=150,
        learning_rate=0.1,
        categorical_features=_categorical_mask(TAXI_NUMERICAL, TAXI_CATEGORICAL),
        early_stopping=False,
        random_state=seed,
    )
    model = _pipeline(estimator, TAXI_NUMERICAL, TAXI_CATEGORICAL)
    return model.fit(reference, _target(reference, TAXI_TARGET))


def train_credit_model(reference: pd.DataFrame, seed: int = 0) -> Pipeline:
    """Fit a repayment classifier (``repaid`` from the CREDIT_* features; gender is not an input).

    >>> from modelmon.demo.data import credit_applications
    >>> model = train_credit_model(credit_applications(2000, seed=0))
    >>> model.classes_.tolist()
    [0, 1]
    """
    estimator = HistGradientBoostingClassifier(
        max_iter=100,
        learning_rate=0.05,
        categorical_features=_categorical_mask(CREDIT_NUMERICAL, CREDIT_CATEGORICAL),
        early_stopping=False,
        random_state=seed,
    )
    model = _pipeline(estimator, CREDIT_NUMERICAL, CREDIT_CATEGORICAL)
    return model.fit(reference, _target(reference, CREDIT_TARGET).astype(np.int64))


def _target(reference: pd.DataFrame, column: str) -> pd.Series:
    if column not in reference.columns:
        raise SchemaError(f"training data has no target column {column!r}")
    if reference[column].isna().any():
        raise InputError(f"training data has missing values in target column {column!r}")
    return reference[column]


def predict_frame(model: Pipeline, frame: pd.DataFrame, task: str) -> pd.DataFrame:
    """A copy of ``frame`` with the model's output columns filled in.

    ``task="regression"``: ``duration`` (minutes). ``task="classification"``: ``proba`` = P(repaid) and
    ``prediction`` = 1 (approved) when ``proba >= APPROVAL_THRESHOLD``.
    """
    scored = frame.copy()
    if task == "regression":
        scored[TAXI_PREDICTION] = np.round(model.predict(frame), 2)
    elif task == "classification":
        proba = model.predict_proba(frame)[:, list(model.classes_).index(1)]
        scored[CREDIT_PROBA] = np.round(proba, 4)
        scored[CREDIT_PREDICTION] = (scored[CREDIT_PROBA] >= APPROVAL_THRESHOLD).astype(np.int64)
    else:
        raise ConfigError(f"unknown task {task!r}: use 'regression' or 'classification'")
    return scored


def save_model(model: Pipeline, path: str | Path) -> Path:
    """Pickle ``model`` to ``path`` (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    return path


def load_model(path: str | Path) -> Pipeline:
    """Unpickle a model. Unpickling runs code: load only files you wrote yourself or otherwise trust."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"model file {str(path)!r} does not exist; run `modelmon demo-data --out DIR` first")
    with path.open("rb") as handle:
        return pickle.load(handle)
