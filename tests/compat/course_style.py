"""A course-style Evidently monitoring-service setup, as the MLOps course's module on monitoring built it.

- ``config.yaml`` in the old service's format: a ``taxi`` dataset (regression: data_drift,
  num_target_drift, regression_performance) and a ``credit`` dataset (classification: data_drift,
  cat_target_drift, classification_performance), with the course's service options;
- reference parquet files *without* a prediction column (the course used the raw trip file);
- the records the course's prediction service posted to ``/iterate/<dataset>``: every raw column
  of the ride, plus ``prediction`` and an ``id``;
- the ground-truth file the course's sender wrote: ``id,duration`` lines without a header.

The panel queries of the course's Grafana dashboards are in :data:`DASHBOARD_QUERIES`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from modelmon.demo.data import credit_applications, taxi_trips

TAXI_FEATURES = {
    "numerical_features": ["trip_distance"],
    "categorical_features": ["PULocationID", "DOLocationID"],
}
CREDIT_FEATURES = {
    "numerical_features": ["age", "income", "debt_ratio"],
    "categorical_features": ["employment"],
}

#: (dashboard, panel, PromQL) of each panel query of the course's five Evidently dashboards
DASHBOARD_QUERIES = [
    ("data_drift", "Dataset Drift", 'evidently:data_drift:dataset_drift{dataset_name="${dataset_name:raw}"}'),
    ("data_drift", "Share of drifted features",
     'evidently:data_drift:share_drifted_features{dataset_name="${dataset_name:raw}"}'),
    ("data_drift", "# of drifted features",
     'evidently:data_drift:n_drifted_features{dataset_name="${dataset_name:raw}"}'),
    ("data_drift", "# of features",
     'evidently:data_drift:n_drifted_features{dataset_name="${dataset_name:raw}"} / '
     'evidently:data_drift:share_drifted_features{dataset_name="${dataset_name:raw}"}'),
    ("data_drift", "Feature Drift Score", 'evidently:data_drift:p_value{dataset_name="${dataset_name:raw}"}'),
    ("data_drift", "Feature Drift Score", "evidently:reference_dataset_hash"),
    ("cat_target_drift", "Drift Score (p-value)",
     'evidently:cat_target_drift:drift{dataset_name="${dataset_name:raw}"}'),
    ("cat_target_drift", "Data Rows",
     'evidently:cat_target_drift:count{dataset_name="${dataset_name:raw}"}'),
    ("classification_performance", "Quality",
     'evidently:classification_performance:quality{dataset="current"}'),
    ("classification_performance", "$metric",
     'evidently:classification_performance:quality{dataset="current", metric="$metric"}'),
    ("classification_performance", "Prediction class representation",
     "evidently:classification_performance:class_representation"
     '{dataset="current", type="prediction"}'),
    ("classification_performance", "Target class representation",
     'evidently:classification_performance:class_representation{dataset="current", type="target"}'),
    ("classification_performance", "Confusion $classes",
     "evidently:classification_performance:class_confusion"
     '{dataset="current", class_name="${classes:raw}"}'),
    ("classification_performance", "Confusion in time",
     "evidently:classification_performance:class_confusion"
     '{dataset="current", class_name="${classes:raw}"}'),
    ("classification_performance", "Quality",
     "evidently:classification_performance:class_quality"
     '{dataset="current", class_name="${classes:raw}"}'),
    ("num_target_drift", "Rows Count",
     'evidently:num_target_drift:count{dataset_name="${dataset_name:raw}"}'),
    ("num_target_drift", "Drift Score (p-value)",
     'evidently:num_target_drift:drift{dataset_name="${dataset_name:raw}"}'),
    ("num_target_drift", "Features Correlations with Target",
     'evidently:num_target_drift:current_correlations{kind="target", dataset_name="${dataset_name:raw}"}'),
    ("num_target_drift", "Features Correlation with Prediction",
     "evidently:num_target_drift:current_correlations"
     '{kind="prediction", dataset_name="${dataset_name:raw}"}'),
    *[
        ("regression_performance", panel,
         f'evidently:regression_performance:quality{{dataset="current", metric="{metric}", '
         'dataset_name="${dataset_name:raw}"}')
        for panel, metric in (
            ("ME", "mean_error"), ("MAE", "mean_abs_error"), ("MAPE", "mean_abs_perc_error"),
            ("Aggregated Metrics in time", "mean_error"), ("Aggregated Metrics in time", "mean_abs_error"),
            ("Aggregated Metrics in time", "mean_abs_perc_error"),
        )
    ],
    *[
        ("regression_performance", "Error Bias: $feature",
         "evidently:regression_performance:feature_error_bias"
         f'{{feature="${{feature:raw}}", metric="{metric}", '
         'dataset_name="${dataset_name:raw}"}')
        for metric in ("current_over", "current_under", "current_majority")
    ],
]  # fmt: skip

#: the dashboards' template variables: name -> (series the values are read from, label)
DASHBOARD_VARIABLES = {
    "dataset_name": (None, "dataset_name"),
    "metric": ("evidently:classification_performance:quality", "metric"),
    "classes": ("evidently:classification_performance:class_confusion", "class_name"),
    "feature": ("evidently:regression_performance:feature_error_bias", "feature"),
}
#: the dataset each dashboard is looked at with
DASHBOARD_DATASET = {
    "data_drift": "taxi",
    "cat_target_drift": "credit",
    "classification_performance": "credit",
    "num_target_drift": "taxi",
    "regression_performance": "taxi",
}


def expand(expr: str, variables: dict[str, str]) -> str:
    """A panel query as Grafana sends it, with its variables set."""
    for name, value in variables.items():
        expr = expr.replace(f"${{{name}:raw}}", value).replace(f"${name}", value)
    return expr


def old_config(window_size: int = 200, period: int = 1) -> dict[str, Any]:
    """The old service's config.yaml (parsed), with the course's service options."""
    data_format = {"header": True, "separator": ","}
    return {
        "datasets": {
            "taxi": {
                "column_mapping": {**TAXI_FEATURES, "target": "duration"},
                "data_format": data_format,
                "monitors": ["data_drift", "num_target_drift", "regression_performance"],
                "reference_file": "./datasets/taxi_reference.parquet",
            },
            "credit": {
                "column_mapping": {**CREDIT_FEATURES, "target": "repaid"},
                "data_format": data_format,
                "monitors": ["data_drift", "cat_target_drift", "classification_performance"],
                "reference_file": "./datasets/credit_reference.parquet",
            },
        },
        "service": {
            "calculation_period_sec": period,
            "min_reference_size": 30,
            "moving_reference": False,
            "datasets_path": "datasets",
            "use_reference": True,
            "window_size": window_size,
        },
    }


def taxi_rides(rows: int, seed: int) -> pd.DataFrame:
    """Raw rides like the course's trip files: the duration as the target, an all-null ``ehail_fee``."""
    trips = taxi_trips(rows, seed=seed).drop(columns=["ride_id"])
    trips = trips.rename(columns={"duration_actual": "duration", "duration": "model_duration"})
    return trips.assign(ehail_fee=None)


def credit_rows(rows: int, seed: int) -> pd.DataFrame:
    return credit_applications(rows, seed=seed).drop(columns=["application_id"])


def write_setup(folder: Path, window_size: int = 200, period: int = 1) -> Path:
    """Write the old config.yaml and the reference files without predictions; the config's path."""
    datasets = folder / "datasets"
    datasets.mkdir(parents=True, exist_ok=True)
    taxi_rides(3000, seed=0).drop(columns=["model_duration"]).to_parquet(datasets / "taxi_reference.parquet")
    credit_rows(3000, seed=0).drop(columns=["prediction", "proba"]).to_parquet(
        datasets / "credit_reference.parquet"
    )
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(old_config(window_size, period), sort_keys=False))
    return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def course_records(dataset: str, rows: int, seed: int = 1) -> list[dict[str, Any]]:
    """What the course's prediction service posted: the raw record (with its target, as the old
    example's production files had it), its ``prediction`` and an ``id``."""
    frame = taxi_rides(rows, seed) if dataset == "taxi" else credit_rows(rows, seed)
    records = []
    for index, raw in enumerate(frame.to_dict("records")):
        record = {str(key): _jsonable(value) for key, value in raw.items()}
        record["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{dataset}-{seed}-{index}"))
        if dataset == "taxi":
            record["PU_DO"] = f"{record['PULocationID']}_{record['DOLocationID']}"
            record["prediction"] = record.pop("model_duration")
        records.append(record)
    return records


def without_target(record: dict[str, Any]) -> dict[str, Any]:
    """A record as the course sent it: the target comes later, in target.csv."""
    return {key: value for key, value in record.items() if key not in ("duration", "repaid")}


def write_target_csv(path: Path, records: list[dict[str, Any]]) -> Path:
    """The course sender's ``target.csv``: ``id,duration`` lines, no header."""
    path.write_text("".join(f"{record['id']},{record['duration']}\n" for record in records))
    return path
