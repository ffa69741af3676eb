"""Outliers: the injected demo outliers are the top-scored rows, the share rises, a control stays quiet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelmon.demo import models
from modelmon.demo.data import credit_applications, taxi_trips
from modelmon.demo.incidents import apply_incident
from modelmon.engine.build import build_report
from modelmon.engine.outliers import CONTAMINATION, OutlierCounts, outliers_section
from modelmon.engine.profile import Profile, ProfileSpec
from modelmon.engine.report import ReportInputs
from modelmon.schema import Schema

SCHEMA = Schema(
    task="regression",
    numerical=models.TAXI_NUMERICAL,
    categorical=models.TAXI_CATEGORICAL,
    prediction=models.TAXI_PREDICTION,
    target=models.TAXI_TARGET,
    id=models.TAXI_ID,
    timestamp=models.TAXI_TIMESTAMP,
)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return taxi_trips(5000, seed=0)


@pytest.fixture(scope="module")
def spec(reference: pd.DataFrame) -> ProfileSpec:
    return ProfileSpec.fit(reference, SCHEMA)


def test_injected_outliers_are_the_top_rows_and_the_share_rises(
    reference: pd.DataFrame, spec: ProfileSpec
) -> None:
    current = apply_incident("outliers", taxi_trips(3000, seed=1), at=0, keep_marker=True)
    injected = set(current.loc[current["injected_outlier"], models.TAXI_ID])
    assert len(injected) == 60

    scores = spec.state["outliers"].scores(current)
    top = current[models.TAXI_ID].to_numpy()[np.argsort(-scores)[: len(injected)]]
    precision_at_k = len(injected.intersection(top)) / len(injected)
    assert precision_at_k >= 0.8

    section = build_report(reference, current, SCHEMA, sections=("outliers",)).sections["outliers"]
    assert section["detected"]
    assert section["share"] > CONTAMINATION + 0.015
    assert section["p_value"] < 1e-6
    top_ids = [row["id"] for row in section["top_rows"]]
    assert len(top_ids) == 10
    assert sum(row_id in injected for row_id in top_ids) >= 8
    assert section["top_rows"][0]["score"] >= section["top_rows"][-1]["score"]
    # 10 standard deviations above the mean is far outside the reference's range: the rules see it too
    assert section["columns"]["trip_distance"]["current_violations"] >= 55
    assert section["columns"]["fare_amount"]["current_violations"] >= 55


def test_control_run_stays_near_the_contamination_rate(reference: pd.DataFrame) -> None:
    section = build_report(reference, taxi_trips(3000, seed=1), SCHEMA, sections=("outliers",)).sections[
        "outliers"
    ]
    assert not section["detected"]
    assert abs(section["share"] - CONTAMINATION) < 0.01
    assert section["reference_share"] == pytest.approx(CONTAMINATION, abs=0.002)
    assert section["rule_share"] < 0.01
    assert sum(section["histogram"]["current"]) == pytest.approx(1.0)


def test_counts_add_exactly_and_round_trip_json(spec: ProfileSpec) -> None:
    frame = apply_incident("outliers", taxi_trips(1200, seed=2), at=600)
    whole = spec.profile(frame).parts["outliers"]
    halves = (
        spec.profile(frame.iloc[:500]).parts["outliers"] + spec.profile(frame.iloc[500:]).parts["outliers"]
    )
    assert halves == whole
    assert whole.scored == 1200 and whole.outliers > 12
    assert OutlierCounts.from_dict(whole.to_dict()) == whole
    profile = spec.profile(frame)
    assert Profile.from_dict(profile.to_dict(), spec).parts["outliers"] == whole


def test_out_of_range_rules_use_the_widened_reference_quantiles(
    spec: ProfileSpec, reference: pd.DataFrame
) -> None:
    low, high = spec.state["outliers"].bounds["trip_distance"]
    q_low, q_high = np.quantile(reference["trip_distance"], [0.001, 0.999])
    assert (low, high) == pytest.approx((q_low - 0.1 * (q_high - q_low), q_high + 0.1 * (q_high - q_low)))
    frame = taxi_trips(4, seed=3)
    frame["trip_distance"] = [high + 1.0, low - 1.0, (low + high) / 2, np.nan]
    counts = spec.profile(frame).parts["outliers"]
    assert counts.violations["trip_distance"] == 2
    assert counts.rule_rows == 2


def test_not_applicable_without_features() -> None:
    schema = Schema(prediction="p", task="regression")
    frame = pd.DataFrame({"p": np.arange(50.0)})
    spec = ProfileSpec.fit(frame, schema)
    section = outliers_section(ReportInputs(spec.profile(frame), spec.profile(frame)))
    assert section["applicable"] is False
    assert "no feature columns" in section["reason"]


def test_credit_outliers_are_found_too() -> None:
    schema = Schema(
        task="classification",
        numerical=models.CREDIT_NUMERICAL,
        categorical=models.CREDIT_CATEGORICAL,
        id=models.CREDIT_ID,
    )
    spec = ProfileSpec.fit(credit_applications(5000, seed=0), schema)
    current = apply_incident("outliers", credit_applications(3000, seed=1), at=0, keep_marker=True)
    injected = current["injected_outlier"].to_numpy()
    scores = spec.state["outliers"].scores(current)
    assert injected[np.argsort(-scores)[: injected.sum()]].mean() >= 0.8
    section = outliers_section(
        ReportInputs(spec.profile(credit_applications(2000, seed=0)), spec.profile(current))
    )
    assert section["detected"] and section["share"] > 0.025


def test_a_frame_without_some_features_is_scored_on_the_others(spec: ProfileSpec) -> None:
    frame = taxi_trips(200, seed=4).drop(columns=["payment_type", "tip_amount"])
    counts = spec.profile(frame).parts["outliers"]
    assert counts.scored == 200 and counts.violations["tip_amount"] == 0
    assert spec.profile(frame[[models.TAXI_ID]]).parts.get("outliers") is None


@pytest.mark.parametrize("max_features", [1.0, 0.5])
def test_forest_scores_are_scikit_learns_score_samples_exactly(max_features):
    from sklearn import config_context
    from sklearn.ensemble import IsolationForest

    from modelmon.engine.outliers import forest_scores

    rng = np.random.default_rng(7)
    fitted = rng.normal(size=(600, 6)) * [1, 10, 0.1, 1, 5, 2]
    forest = IsolationForest(n_estimators=50, max_features=max_features, random_state=3).fit(fitted)
    rows = np.vstack([rng.normal(size=(300, 6)) * 3, fitted[:20], np.full((1, 6), 1e9)])
    np.testing.assert_array_equal(forest_scores(forest, rows), forest.score_samples(rows))
    # up to WALK_ROWS rows walk every tree at once, more go tree by tree: both as scikit-learn
    for count in (1, 2, 3, 50, 255, 256, 257):
        np.testing.assert_array_equal(forest_scores(forest, rows[:count]), forest.score_samples(rows[:count]))
    for row in rows[:60]:  # one row alone: its trees added one after the other, not pairwise
        np.testing.assert_array_equal(forest_scores(forest, row[None]), forest.score_samples(row[None]))
    with config_context(working_memory=0.001):  # scored in chunks of rows, both alike
        np.testing.assert_array_equal(forest_scores(forest, rows), forest.score_samples(rows))
    missing = rows[:40].copy()
    missing[::3, 1] = np.nan  # a missing value goes where scikit-learn's own walk sends it
    np.testing.assert_array_equal(forest_scores(forest, missing), forest.score_samples(missing))
    forest.set_params(random_state=4).fit(fitted[::2])  # fitted again: other trees, read again
    np.testing.assert_array_equal(forest_scores(forest, rows[:30]), forest.score_samples(rows[:30]))


def test_a_chunked_frame_scored_on_a_bounded_sample_gives_every_rows_share(
    spec: ProfileSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelmon.engine import outliers

    monkeypatch.setattr(outliers, "MAX_SCORED_ROWS", 1000)
    # strange rows from the middle on, as the incident of the full-report benchmark
    frame = apply_incident("outliers", taxi_trips(12_000, seed=5), at=6000)
    chunks = [
        spec.profile(frame.iloc[start : start + 3000]).parts["outliers"] for start in range(0, 12_000, 3000)
    ]
    sampled = sum(chunks[1:], chunks[0])
    assert sampled.scored == 4000 and sampled.rows == 12_000
    state = spec.state["outliers"]
    every = float((state.scores(frame) > state.threshold).mean())
    share = sampled.outliers / sampled.scored
    assert every > 2 * CONTAMINATION  # the incident shows
    assert abs(share - every) <= 4 * np.sqrt(every * (1 - every) / sampled.scored)
    # the rules still check every row
    assert sampled.violations == spec.profile(frame).parts["outliers"].violations
