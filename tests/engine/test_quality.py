"""Data quality figures, checked exactly against pandas on the raw rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelmon.engine.profile import ProfileSpec
from modelmon.engine.quality import data_quality, quantile
from modelmon.schema import Schema

SCHEMA = Schema(numerical=["amount", "flat"], categorical=["zone"], prediction="score")


def _frames(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    reference = pd.DataFrame(
        {
            "amount": rng.normal(50, 10, 3000),
            "flat": np.where(rng.random(3000) < 0.9, 1.0, rng.normal(size=3000)),
            "zone": rng.choice(["a", "b", "c", "d"], 3000),
            "score": rng.random(3000),
        }
    )
    current = pd.DataFrame(
        {
            "amount": rng.normal(58, 12, 2000).astype(object),
            "flat": np.where(rng.random(2000) < 0.97, 1.0, 2.0),
            "zone": rng.choice(["a", "b", "c", "x", "y"], 2000, p=[0.3, 0.3, 0.2, 0.15, 0.05]),
            "score": rng.random(2000) * 1.2,
        }
    )
    current.loc[rng.choice(2000, 120, replace=False), "amount"] = None
    current.loc[rng.choice(2000, 30, replace=False), "amount"] = "n/a"
    current.loc[rng.choice(2000, 50, replace=False), "zone"] = None
    return reference, current


@pytest.fixture(scope="module")
def figures():
    reference, current = _frames(3)
    spec = ProfileSpec.fit(reference, SCHEMA)
    return reference, current, data_quality(spec.profile(reference), spec.profile(current))


def test_missing_and_type_errors_match_pandas(figures):
    _, current, result = figures
    amount = result["columns"]["amount"]
    parsed = pd.to_numeric(current["amount"], errors="coerce")
    type_errors = int((parsed.isna() & current["amount"].notna()).sum())
    assert type_errors == 30
    assert amount["missing_share"] == current["amount"].isna().sum() / len(current)
    assert amount["type_error_share"] == type_errors / len(current)
    assert result["columns"]["zone"]["missing_share"] == current["zone"].isna().sum() / len(current)


def test_out_of_range_share_matches_pandas(figures):
    reference, current, result = figures
    for name in ("amount", "score"):
        values = pd.to_numeric(current[name], errors="coerce").dropna()
        outside = (values < reference[name].min()) | (values > reference[name].max())
        assert result["columns"][name]["out_of_range_share"] == pytest.approx(outside.mean(), abs=1e-15)
        assert result["columns"][name]["out_of_range"] == outside.sum()
    assert result["columns"]["score"]["out_of_range_share"] > 0.1


def test_new_category_share_and_names_match_pandas(figures):
    reference, current, result = figures
    zone = result["columns"]["zone"]
    valid = current["zone"].dropna()
    new = valid[~valid.isin(reference["zone"].unique())]
    assert zone["new_category_share"] == len(new) / len(valid)
    assert zone["new_categories"] == new.value_counts().to_dict()
    assert any(
        issue["kind"] == "new_category_share" and issue["column"] == "zone" for issue in result["issues"]
    )


def test_almost_constant_and_constant_columns():
    reference, current = _frames(4)
    current["score"] = 0.5
    spec = ProfileSpec.fit(reference, SCHEMA)
    result = data_quality(spec.profile(reference), spec.profile(current))
    flat, score = result["columns"]["flat"], result["columns"]["score"]
    assert flat["most_frequent_share"] == (current["flat"] == 1.0).mean()
    assert flat["almost_constant"] and not flat["constant"]
    assert score["constant"] and score["most_frequent_share"] == 1.0
    kinds = {(issue["column"], issue["kind"]) for issue in result["issues"]}
    assert {("flat", "almost_constant"), ("score", "constant")} <= kinds
    assert not result["columns"]["amount"]["almost_constant"]


def test_statistics_of_reference_and_current(figures):
    reference, current, result = figures
    score = result["columns"]["score"]
    assert score["current"]["mean"] == pytest.approx(current["score"].mean(), rel=1e-12)
    assert score["current"]["std"] == pytest.approx(current["score"].std(ddof=0), rel=1e-9)
    assert score["reference"]["max"] == reference["score"].max()
    # reference values are all edges, so the reference's own quantiles are exact order statistics
    for q in (0.25, 0.5, 0.75):
        assert score["reference"][f"p{round(q * 100)}"] == pytest.approx(
            reference["score"].quantile(q, interpolation="nearest"), abs=2e-3
        )


def test_quantile_is_exact_on_an_edge():
    spec = ProfileSpec.fit(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0]}), Schema(numerical=["x"]))
    column = spec.profile(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0]})).columns["x"]
    assert [quantile(column, q) for q in (0.0, 0.5, 1.0)] == [1.0, 3.0, 5.0]
    empty = spec.empty().columns["x"]
    assert quantile(empty, 0.5) is None


def test_schema_mismatch_is_reported_not_raised():
    reference, current = _frames(5)
    current = current.drop(columns=["zone"]).assign(surprise=1)
    spec = ProfileSpec.fit(reference, SCHEMA)
    result = data_quality(spec.profile(reference), spec.profile(current))
    assert result["schema"] == {"missing_columns": ["zone"], "unexpected_columns": ["surprise"]}
    assert "zone" not in result["columns"]
    kinds = {(issue["column"], issue["kind"]) for issue in result["issues"]}
    assert {("zone", "missing_column"), ("surprise", "unexpected_column")} <= kinds


def test_empty_current_gives_no_shares():
    reference, _ = _frames(6)
    spec = ProfileSpec.fit(reference, SCHEMA)
    result = data_quality(spec.profile(reference), spec.empty())
    assert result["columns"]["amount"]["missing_share"] is None
    assert result["columns"]["zone"]["new_category_share"] is None
    assert result["duplicates"]["applicable"] is False


def test_duplicates_above_the_limit_are_an_issue():
    reference, current = _frames(7)
    spec = ProfileSpec.fit(reference, SCHEMA)
    result = data_quality(
        spec.profile(reference), spec.profile(current), duplicates={"rows": 100, "duplicated": 20}
    )
    assert result["duplicates"]["share"] == 0.2
    assert any(issue["kind"] == "duplicate_share" for issue in result["issues"])


def _demo_report(dataset: str, incident: str | None):
    from modelmon.demo.data import credit_applications, taxi_trips
    from modelmon.demo.incidents import apply_incident
    from modelmon.engine.build import build_report

    make = taxi_trips if dataset == "taxi" else credit_applications
    reference, current = make(4000, seed=1), make(4000, seed=2)
    if incident is not None:
        current = apply_incident(incident, current, at=2000)
    return build_report(reference, current, _demo_schema(dataset), sections=("quality",)).sections["quality"]


def _demo_schema(dataset: str) -> Schema:
    if dataset == "taxi":
        return Schema(
            numerical=["trip_distance", "fare_amount", "tip_amount", "tolls_amount", "passenger_count"],
            categorical=["PULocationID", "DOLocationID", "payment_type", "vendor"],
            prediction="duration",
            target="duration_actual",
            id="ride_id",
            timestamp="pickup_time",
        )
    return Schema(
        task="classification",
        numerical=["age", "income", "debt_ratio", "loan_amount"],
        categorical=["employment", "housing", "purpose", "region"],
        prediction="prediction",
        probabilities=["proba"],
        target="repaid",
        id="application_id",
        timestamp="applied_at",
        sensitive=["gender"],
    )


@pytest.mark.parametrize("dataset", ["taxi", "credit"])
def test_a_clean_batch_flags_nothing(dataset):
    assert _demo_report(dataset, None)["issues"] == []


@pytest.mark.parametrize("dataset", ["taxi", "credit"])
@pytest.mark.parametrize(
    ("incident", "kind"),
    [
        ("new_categories", "new_category_share"),
        ("missing_spike", "missing_share"),
        ("type_errors", "type_error_share"),
    ],
)
def test_each_quality_incident_is_caught_on_its_column(dataset, incident, kind):
    from modelmon.demo.incidents import DEFAULT_ARGUMENTS

    arguments = DEFAULT_ARGUMENTS[dataset][incident]
    columns = arguments.get("columns") or [arguments["column"]]
    issues = _demo_report(dataset, incident)["issues"]
    assert {(issue["column"], issue["kind"]) for issue in issues} == {(column, kind) for column in columns}
