"""Multivariate drift: AUC near 0.5 on a control, high on a shifted incident, the shifted column first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from modelmon.demo import models
from modelmon.demo.data import taxi_trips
from modelmon.demo.incidents import apply_incident
from modelmon.engine.multivariate import domain_classifier, drift_threshold, multivariate_section
from modelmon.engine.profile import ProfileSpec
from modelmon.engine.report import ReportInputs
from modelmon.schema import Schema

SCHEMA = Schema(numerical=models.TAXI_NUMERICAL, categorical=models.TAXI_CATEGORICAL)
ROWS = 800


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return taxi_trips(ROWS, seed=0)


def _section(reference: pd.DataFrame, current: pd.DataFrame) -> dict:
    spec = ProfileSpec.fit(reference, SCHEMA)
    inputs = ReportInputs(
        spec.profile(reference), spec.profile(current), reference_sample=reference, current_sample=current
    )
    return multivariate_section(inputs)


def test_control_is_not_a_drift(reference: pd.DataFrame) -> None:
    section = _section(reference, taxi_trips(ROWS, seed=1))
    assert section["applicable"] and not section["detected"]
    assert abs(section["auc"] - 0.5) < 3 * section["null_sd"] + 0.01
    assert section["threshold"] == 0.55


def test_shifted_column_drives_the_drift(reference: pd.DataFrame) -> None:
    shifted = apply_incident(
        "covariate_shift", taxi_trips(ROWS, seed=1), at=0, columns=["trip_distance"], shift=1.0
    )
    section = _section(reference, shifted)
    assert section["detected"]
    assert section["auc"] > 0.75
    assert section["top_features"][0] == "trip_distance"
    assert section["features"][0]["importance"] > 2 * max(
        item["importance"] for item in section["features"][1:]
    )


def test_new_categories_point_at_their_column(reference: pd.DataFrame) -> None:
    changed = apply_incident("new_categories", taxi_trips(ROWS, seed=1), at=0)
    section = _section(reference, changed)
    assert section["detected"]
    assert section["top_features"][0] == "PULocationID"


def test_auc_is_the_out_of_fold_roc_auc() -> None:
    rng = np.random.default_rng(4)
    reference = pd.DataFrame({"x": rng.normal(size=300), "y": rng.normal(size=300)})
    current = pd.DataFrame({"x": rng.normal(0.5, 1.0, size=300), "y": rng.normal(size=300)})
    result = domain_classifier(reference, current, ["x", "y"], [])
    # a classifier can do no better than the Bayes rule on x alone, whose AUC is about 0.64
    bayes = roc_auc_score(np.r_[np.zeros(300), np.ones(300)], np.r_[reference["x"], current["x"]])
    assert 0.5 < result["auc"] <= bayes + 0.05


def test_threshold_grows_for_small_samples() -> None:
    assert drift_threshold(2000, 2000)[0] == 0.55
    small, _ = drift_threshold(50, 50)
    assert small == pytest.approx(0.5 + 3 * np.sqrt(101 / (12 * 50 * 50)))
    assert small > 0.55


def test_not_applicable_without_samples_or_with_few_rows(reference: pd.DataFrame) -> None:
    spec = ProfileSpec.fit(reference, SCHEMA)
    profile = spec.profile(reference)
    assert "no row samples" in multivariate_section(ReportInputs(profile, profile))["reason"]
    tiny = ReportInputs(
        profile, profile, reference_sample=reference.iloc[:20], current_sample=reference.iloc[:20]
    )
    assert "at least 50 rows" in multivariate_section(tiny)["reason"]
