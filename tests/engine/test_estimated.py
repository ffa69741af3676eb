from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from health_cases import fit_spec

from modelmon.demo import models
from modelmon.demo.data import credit_applications
from modelmon.demo.incidents import apply_incident
from modelmon.engine.estimated import CalibrationState, EstimatedPart, estimate
from modelmon.engine.performance_section import performance_section
from modelmon.engine.report import ReportInputs
from modelmon.schema import Schema

SCHEMA = Schema(
    task="classification", numerical=["x"], prediction="pred", target="y", probabilities=["proba"]
)
CREDIT = Schema(
    task="classification",
    numerical=models.CREDIT_NUMERICAL,
    categorical=models.CREDIT_CATEGORICAL,
    prediction=models.CREDIT_PREDICTION,
    target=models.CREDIT_TARGET,
    probabilities=[models.CREDIT_PROBA],
)


def calibrated_frame(rows: int, seed: int = 0, a: float = 2.0, b: float = 2.0) -> pd.DataFrame:
    """Probabilities that are exactly calibrated: y ~ Bernoulli(proba)."""
    rng = np.random.default_rng(seed)
    proba = rng.beta(a, b, rows)
    y = (rng.random(rows) < proba).astype(int)
    return pd.DataFrame({"x": proba, "y": y, "proba": proba, "pred": (proba >= 0.5).astype(int)})


def report(schema: Schema, reference: pd.DataFrame, current: pd.DataFrame) -> dict:
    spec = fit_spec(reference, schema)
    return performance_section(ReportInputs(spec.profile(reference), spec.profile(current)))


def test_estimate_matches_realized_metrics_when_calibration_holds():
    # the current data is more confident than the reference (a covariate shift of the scores)
    result = report(SCHEMA, calibrated_frame(20_000), calibrated_frame(50_000, seed=1, a=0.8, b=0.8))
    estimated = result["estimated"]
    assert estimated["estimated"] is True and estimated["method"] == "CBPE"
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        assert estimated["current"][name] == pytest.approx(result["current"][name], abs=0.02), name
    assert result["current"]["accuracy"] - result["reference"]["accuracy"] > 0.05


def test_estimate_tracks_the_realized_drop_under_covariate_shift_of_credit_data():
    reference = credit_applications(20_000, seed=0)
    pool = credit_applications(80_000, seed=1)
    # more indebted applicants: P(repaid | inputs) is unchanged, the mix of inputs is not
    debt = (pool["debt_ratio"] - pool["debt_ratio"].mean()) / pool["debt_ratio"].std()
    weights = np.exp(debt.to_numpy())
    rows = np.random.default_rng(2).choice(len(pool), 20_000, replace=False, p=weights / weights.sum())
    result = report(CREDIT, reference, pool.iloc[rows])
    realized_drop = -result["delta"]["accuracy"]
    estimated_drop = -result["estimated"]["delta"]["accuracy"]
    assert realized_drop > 0.02
    assert estimated_drop == pytest.approx(realized_drop, abs=0.01)
    assert result["estimated"]["current"]["f1"] == pytest.approx(result["current"]["f1"], abs=0.01)


def test_estimate_is_blind_to_concept_change():
    reference = credit_applications(10_000, seed=0)
    changed = apply_incident("concept_change", credit_applications(10_000, seed=1), at=0)
    result = report(CREDIT, reference, changed)
    assert result["delta"]["accuracy"] < -0.1
    assert abs(result["estimated"]["delta"]["accuracy"]) < 0.01
    assert "concept change" in result["estimated"]["note"]


def test_estimate_needs_no_targets():
    current = calibrated_frame(5000, seed=3).drop(columns="y")
    result = report(SCHEMA, calibrated_frame(5000), current)
    assert result["applicable"] is False and "no target column" in result["reason"]
    assert result["estimated"]["applicable"] is True
    assert result["estimated"]["rows"] == 5000
    assert result["estimated"]["current"]["accuracy"] == pytest.approx(0.69, abs=0.03)


def test_part_adds_like_concatenated_rows_and_round_trips_json():
    spec = fit_spec(calibrated_frame(2000), SCHEMA)
    first, second = calibrated_frame(300, seed=1), calibrated_frame(200, seed=2)
    second.loc[:9, "proba"] = None
    total = spec.profile(first).parts["estimated"] + spec.profile(second).parts["estimated"]
    whole = spec.profile(pd.concat([first, second], ignore_index=True)).parts["estimated"]
    assert total.to_dict() == whole.to_dict()
    assert total.unscored == 10 and total.rows == 490
    again = EstimatedPart.from_dict(json.loads(json.dumps(total.to_dict())))
    assert again.to_dict() == total.to_dict()
    state = spec.state["estimated"]
    assert estimate(again, state) == estimate(whole, state)


@pytest.mark.parametrize("case", ["empty", "one_row", "constant_predictions", "class_absent"])
def test_contract_on_edge_inputs(case):
    current = calibrated_frame(100, seed=4)
    if case == "empty":
        current = current.iloc[:0]
    elif case == "one_row":
        current = current.iloc[:1]
    elif case == "constant_predictions":
        current["pred"] = 1
    else:
        current = current[current["pred"] == 0]
    estimated = report(SCHEMA, calibrated_frame(1000), current)["estimated"]
    json.dumps(estimated)
    if case == "empty":
        assert estimated == {
            "applicable": False,
            "estimated": True,
            "reason": "no scored rows in the current data",
        }
        return
    assert estimated["applicable"] is True
    assert 0.0 <= estimated["current"]["accuracy"] <= 1.0
    if case == "class_absent":
        assert estimated["current"]["precision"] is None


NO_PROBABILITIES = Schema(task="classification", numerical=["x"], prediction="pred", target="y")


@pytest.mark.parametrize(
    ("schema", "reference"),
    [
        (SCHEMA, calibrated_frame(50)),  # too few rows to calibrate on
        (SCHEMA, calibrated_frame(500).assign(y=1)),  # one class only
        (NO_PROBABILITIES, calibrated_frame(500)),  # no probabilities
    ],
)
def test_not_applicable_without_a_usable_calibration(schema, reference):
    assert CalibrationState.fit(reference, fit_spec(reference, schema)) is None
    estimated = report(schema, reference, calibrated_frame(100, seed=1))["estimated"]
    assert estimated["applicable"] is False and "calibrate" in estimated["reason"]
