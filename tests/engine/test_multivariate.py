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


def test_permutation_importance_is_scikit_learns(reference: pd.DataFrame) -> None:
    from sklearn.inspection import permutation_importance as sklearn_importance

    from modelmon.engine.domain_model import DomainClassifier
    from modelmon.engine.multivariate import permutation_importance
    from modelmon.engine.outliers import FeatureEncoder

    shifted = apply_incident(
        "covariate_shift", taxi_trips(ROWS, seed=1), at=0, columns=["trip_distance"], shift=1.0
    )
    shifted.loc[shifted.index[::7], "fare_amount"] = np.nan  # missing values go to the model as NaN
    encoder = FeatureEncoder.fit(reference, SCHEMA.numerical, SCHEMA.categorical)
    matrix = np.vstack([encoder.transform(reference), encoder.transform(shifted)])
    labels = np.r_[np.zeros(ROWS, dtype=np.int64), np.ones(ROWS, dtype=np.int64)]
    categorical = tuple(name in encoder.categorical for name in encoder.columns)
    model = DomainClassifier(categorical, 3).fit(matrix[::2], labels[::2])
    for seed in (0, 7):
        mean, std = permutation_importance(model, matrix[1::2], labels[1::2], 3, seed)
        theirs = sklearn_importance(
            model, matrix[1::2], labels[1::2], scoring="roc_auc", n_repeats=3, random_state=seed
        )
        np.testing.assert_allclose(mean, theirs.importances_mean, rtol=0, atol=1e-12)
        np.testing.assert_allclose(std, theirs.importances_std, rtol=0, atol=1e-12)
        assert int(np.argmax(mean)) == encoder.columns.index("trip_distance")
