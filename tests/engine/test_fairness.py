from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from health_cases import EDGE_CASES, edge_case, fit_spec
from sklearn.metrics import mean_absolute_error

from modelmon.demo import models
from modelmon.demo.data import credit_applications, taxi_trips
from modelmon.demo.incidents import apply_incident
from modelmon.engine.fairness import FairnessPart, fairness_section
from modelmon.engine.report import ReportInputs
from modelmon.schema import Schema

BINARY = Schema(
    task="classification", numerical=["x"], prediction="pred", target="y", sensitive=["group", "band"]
)
REGRESSION = Schema(task="regression", numerical=["x"], prediction="pred", target="y", sensitive=["group"])
CREDIT = Schema(
    task="classification",
    numerical=models.CREDIT_NUMERICAL,
    categorical=models.CREDIT_CATEGORICAL,
    prediction=models.CREDIT_PREDICTION,
    target=models.CREDIT_TARGET,
    probabilities=[models.CREDIT_PROBA],
    sensitive=models.CREDIT_SENSITIVE,
)
TAXI = Schema(
    task="regression",
    numerical=models.TAXI_NUMERICAL,
    categorical=["PULocationID", "DOLocationID", "payment_type"],
    prediction=models.TAXI_PREDICTION,
    target=models.TAXI_TARGET,
    sensitive=["vendor"],
)


def frame(rows: int, seed: int = 0, task: str = "classification") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c", "tiny"], rows, p=[0.5, 0.3, 0.196, 0.004])
    band = rng.choice(["low", "high"], rows)
    if task == "regression":
        y = rng.gamma(2.0, 5.0, rows)
        noise = np.where(group == "b", 4.0, 2.0)
        return pd.DataFrame({"x": y, "group": group, "band": band, "y": y, "pred": y + rng.normal(0, noise)})
    rate = pd.Series(group).map({"a": 0.6, "b": 0.4, "c": 0.5, "tiny": 0.5}).to_numpy()
    y = (rng.random(rows) < rate).astype(int)
    pred = np.where(rng.random(rows) < np.where(group == "c", 0.65, 0.85), y, 1 - y)
    return pd.DataFrame({"x": rng.normal(size=rows), "group": group, "band": band, "y": y, "pred": pred})


def report(schema: Schema, reference: pd.DataFrame, current: pd.DataFrame, **options) -> dict:
    spec = fit_spec(reference, schema)
    return fairness_section(ReportInputs(spec.profile(reference), spec.profile(current), options=options))


def test_aggregates_match_fairlearn_exactly():
    current = frame(5000, seed=1)
    result = report(BINARY, frame(2000), current)
    for attribute in ("group", "band"):
        got = result["attributes"][attribute]
        # fairlearn sees the groups that are large enough, as modelmon measures them
        kept = current[~current[attribute].isin(got["too_small"])]
        y, pred, groups = kept["y"], kept["pred"], kept[attribute]
        expected_parity = demographic_parity_difference(y, pred, sensitive_features=groups)
        assert got["demographic_parity_difference"] == pytest.approx(expected_parity, abs=1e-12)
        expected_ratio = demographic_parity_ratio(y, pred, sensitive_features=groups)
        assert got["demographic_parity_ratio"] == pytest.approx(expected_ratio, abs=1e-12)
        expected_odds = equalized_odds_difference(y, pred, sensitive_features=groups)
        assert got["equalized_odds_difference"] == pytest.approx(expected_odds, abs=1e-12)
        rates = MetricFrame(
            metrics={"selection_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate},
            y_true=y,
            y_pred=pred,
            sensitive_features=groups,
        ).by_group
        for name, row in rates.iterrows():
            for metric in ("selection_rate", "tpr", "fpr"):
                assert got["groups"][name][metric] == pytest.approx(row[metric], abs=1e-12), (name, metric)
    assert result["attributes"]["group"]["too_small"] == ["tiny"]
    assert result["attributes"]["group"]["lowest_selection_rate_group"] == "b"


def test_selection_rates_count_unlabelled_rows_and_rates_need_labels():
    current = frame(3000, seed=2)
    current.loc[:999, "y"] = None
    got = report(BINARY, frame(2000), current)["attributes"]["band"]["groups"]["low"]
    low = current[current["band"] == "low"]
    assert got["rows"] == len(low)
    assert got["selection_rate"] == pytest.approx((low["pred"] == 1).mean(), abs=1e-12)
    labelled = low.dropna(subset=["y"])
    assert got["labelled_rows"] == len(labelled)
    assert got["tpr"] == pytest.approx(
        true_positive_rate(labelled["y"].astype(int), labelled["pred"]), abs=1e-12
    )


def test_regression_groups_match_fairlearn_metric_frame():
    current = frame(4000, seed=3, task="regression")
    got = report(REGRESSION, frame(2000, task="regression"), current)["attributes"]["group"]
    by_group = MetricFrame(
        metrics=mean_absolute_error,
        y_true=current["y"],
        y_pred=current["pred"],
        sensitive_features=current["group"],
    ).by_group
    for name, mae in by_group.items():
        assert got["groups"][name]["mae"] == pytest.approx(mae, rel=1e-12)
        mean = current.loc[current["group"] == name, "pred"].mean()
        assert got["groups"][name]["mean_prediction"] == pytest.approx(mean, rel=1e-12)
    measured = by_group.drop("tiny")
    assert got["max_error_gap"] == pytest.approx(measured.max() - measured.min(), rel=1e-12)
    assert got["worst_group"] == "b" and got["above_threshold"] is True
    # the reference has the same gap: reported, not flagged
    assert got["flagged"] is False


def test_bias_against_women_is_caught_and_the_control_flags_nothing():
    reference, current = credit_applications(5000, seed=0), credit_applications(5000, seed=1)
    control = report(CREDIT, reference, current)
    assert control["flagged"] == []
    assert control["attributes"]["gender"]["demographic_parity_difference"] < 0.05
    biased = report(CREDIT, reference, apply_incident("bias", current, at=0))
    gender = biased["attributes"]["gender"]
    assert "gender" in biased["flagged"]
    assert gender["demographic_parity_difference"] > 0.1
    assert gender["lowest_selection_rate_group"] == "female"
    assert gender["reference"]["demographic_parity_difference"] < 0.05


def test_taxi_bias_against_one_vendor_is_caught_and_the_control_flags_nothing():
    reference, current = taxi_trips(5000, seed=0), taxi_trips(5000, seed=1)
    assert report(TAXI, reference, current)["flagged"] == []
    vendor = report(TAXI, reference, apply_incident("bias", current, at=0))["attributes"]["vendor"]
    assert vendor["flagged"] is True and vendor["worst_group"] == "CMT"


def test_part_adds_like_concatenated_rows_and_round_trips_json():
    spec = fit_spec(frame(1000), BINARY)
    first, second = frame(400, seed=1), frame(50, seed=2)
    total = spec.profile(first).parts["fairness"] + spec.profile(second).parts["fairness"]
    whole = spec.profile(pd.concat([first, second], ignore_index=True)).parts["fairness"]
    assert total.to_dict() == whole.to_dict()
    again = FairnessPart.from_dict(json.loads(json.dumps(total.to_dict())))
    assert again.to_dict() == total.to_dict()


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("case", EDGE_CASES)
def test_contract_on_edge_inputs(task, case):
    schema = BINARY if task == "classification" else REGRESSION
    current = frame(300, seed=4, task=task)
    if case == "class_absent" and task == "classification":
        current = current[current["y"] == 1]  # positives only: no group has a false positive rate
    else:
        current = edge_case(current, case, task)
    result = report(schema, frame(1000, task=task), current)
    json.dumps(result)
    assert result["applicable"] is True
    group = result["attributes"]["group"]
    assert sum(g["rows"] for g in group["groups"].values()) == len(current)
    if case in ("empty", "one_row"):
        assert set(group["too_small"]) == set(group["groups"]) and group["flagged"] is False
    if task == "classification" and case == "constant_predictions":
        assert group["demographic_parity_difference"] == 0.0
    if task == "classification" and case in ("no_targets", "class_absent"):
        assert all(g["fpr"] is None for g in group["groups"].values())


def test_not_applicable_without_sensitive_attributes():
    schema = Schema(task="classification", numerical=["x"], prediction="pred", target="y")
    result = report(schema, frame(100), frame(100))
    assert result == {"applicable": False, "reason": "the schema names no sensitive attributes"}
