"""A full report (every section) over data with an all-null numerical and an all-null categorical column."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelmon.engine.build import build_report
from modelmon.engine.multivariate import domain_classifier
from modelmon.engine.sections import section_names
from modelmon.render.html import render_html
from modelmon.render.json import to_jsonable
from modelmon.schema import Schema

SCHEMA = Schema(
    numerical=["trip_distance", "ehail_fee"],
    categorical=["zone", "store_flag"],
    prediction="duration",
    target="duration_actual",
    timestamp="pickup_time",
    segments=["zone"],
    sensitive=["zone"],
    task="regression",
)


def _taxi_like(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    distance = rng.gamma(2.0, 1.5 + shift, rows)
    duration = 3.0 * distance + rng.normal(0, 1, rows)
    return pd.DataFrame(
        {
            "trip_distance": distance,
            "ehail_fee": np.full(rows, np.nan),  # all null, as in real taxi files
            "zone": rng.choice(["a", "b", "c"], rows),
            "store_flag": pd.Series([None] * rows, dtype=object),
            "duration": duration,
            "duration_actual": duration + rng.normal(0, 2, rows),
            "pickup_time": pd.date_range("2024-01-01", periods=rows, freq="min"),
            "attr_trip_distance": rng.normal(0, 1, rows),
            "attr_ehail_fee": np.full(rows, np.nan),
        }
    )


def test_full_report_with_all_null_columns() -> None:
    report = build_report(_taxi_like(400, seed=0), _taxi_like(300, seed=1, shift=1.0), SCHEMA)
    data = to_jsonable(report.to_dict())
    for section in section_names():
        assert section in data, section
        failed = isinstance(data[section], dict) and data[section].get("applicable") is False
        assert not (failed and "error" in data[section]), (section, data[section])
    for name in ("performance", "segments", "fairness", "outliers", "explain", "concept", "multivariate"):
        assert data[name]["applicable"] is True, (name, data[name])
    drift = data["drift"]["columns"]
    assert drift["trip_distance"]["detected"] is True
    for name in ("ehail_fee", "store_flag"):
        assert drift[name]["score"] is None and drift[name]["detected"] is False
        assert "no reference values" in drift[name]["note"]
        assert data["quality"]["columns"][name]["missing_share"] == 1.0
    assert data["multivariate"]["detected"] is True
    assert "ehail_fee" in render_html(data)


def test_domain_classifier_ignores_features_without_values() -> None:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 200), "empty": np.nan, "none": None})
    current = pd.DataFrame({"x": rng.normal(2, 1, 200), "empty": np.nan, "none": None})
    result = domain_classifier(reference, current, ["x", "empty"], ["none"])
    assert result["detected"] is True
    importance = {item["feature"]: item["importance"] for item in result["features"]}
    assert importance["empty"] == 0.0 and importance["none"] == 0.0
    nothing = domain_classifier(reference[["empty"]], current[["empty"]], ["empty"], [])
    assert nothing["auc"] == 0.5 and nothing["detected"] is False
