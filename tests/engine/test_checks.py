from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelmon.engine.build import build_report
from modelmon.engine.checks import (
    METRIC_TOLERANCE,
    CheckError,
    default_conditions,
    parse_condition,
    parse_conditions,
    run_checks,
)
from modelmon.schema import Schema

REPORT = {
    "current_rows": 500,
    "drift": {"dataset_drift": False, "drifted_share": 0.25, "columns": {"x": {"method": "wasserstein"}}},
    "quality": {"columns": {"fare.amount": {"missing_share": 0.03}}},
    "performance": {"current": {"mae": 3.5, "r2": None}},
    "segments": {"drift_ranking": [{"segment": "zone=b", "drifted_share": 1.0}]},
    "fairness": {"applicable": False, "reason": "the schema names no sensitive columns"},
}


@pytest.mark.parametrize(
    ("condition", "passed"),
    [
        ("drift.dataset_drift == false", True),
        ("drift.dataset_drift == true", False),
        ("drift.drifted_share != 0.25", False),
        ("drift.columns.x.method != ks", True),
        ("performance.current.mae < 4", True),
        ("performance.current.mae < 3.5", False),
        ("performance.current.mae <= 3.5", True),
        ("performance.current.mae > 3.5", False),
        ("performance.current.mae >= 3.5", True),
        ("drift.columns.x.method in [ks, wasserstein]", True),
        ("drift.columns.x.method in [ks, psi]", False),
        ("drift.columns.x.method not_in [ks, psi]", True),
        ("performance.current.mae between [3, 3.5]", True),
        ("performance.current.mae between [3.6, 9]", False),
        ('quality.columns."fare.amount".missing_share < 0.05', True),
        ("segments.drift_ranking.0.segment == zone=b", True),
        ("segments.drift_ranking.-1.drifted_share == 1", True),
        ("current_rows >= 500", True),
    ],
)
def test_each_operator(condition, passed):
    (result,) = run_checks(REPORT, [condition]).checks
    assert result.passed is passed, result
    assert bool(result.detail) is not passed


def test_a_null_value_fails_an_ordered_comparison_saying_why():
    (result,) = run_checks(REPORT, ["performance.current.r2 > 0.5"]).checks
    assert not result.passed and result.detail.startswith("no value (null)")
    assert run_checks(REPORT, ["performance.current.r2 == null"]).passed


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (
            "performance.current.mape < 1",
            "the report has no performance.current.mape: performance.current has keys mae, r2",
        ),
        ("drift.columns.y.score < 1", "the report has no drift.columns.y: drift.columns has keys x"),
        (
            "fairness.attributes.gender.max_error_gap < 1",
            "it does not apply: the schema names no sensitive columns",
        ),
        ("segments.drift_ranking.3.segment == a", "segments.drift_ranking is a list of 1 item(s)"),
        ("current_rows.value == 1", "current_rows is the value 500"),
    ],
)
def test_a_missing_path_is_an_error_naming_it(condition, message):
    with pytest.raises(CheckError, match="the report has no") as raised:
        run_checks(REPORT, [condition])
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("drift.dataset_drift = false", "expected PATH OPERATOR VALUE"),
        ("drift.columns.x.method in ks", "in needs a list"),
        ("performance.current.mae between [1]", "between needs two numbers"),
        ("drift..dataset_drift == false", "is not keys joined by dots"),
        ("drift.dataset_drift == [unclosed", "is not a YAML literal"),
    ],
)
def test_an_unreadable_condition_says_what_is_wrong(condition, message):
    with pytest.raises(CheckError, match=message):
        parse_condition(condition)


def test_conditions_file_shapes():
    named = parse_conditions(
        [{"check": "current_rows > 0", "name": "has rows"}, "drift.dataset_drift == false"]
    )
    assert [c.name for c in named] == ["has rows", None]
    for bad in ({"conditions": []}, "text", [{"chek": "x > 1"}]):
        with pytest.raises(CheckError):
            parse_conditions(bad)


def _frame(rows: int, seed: int, shift: float = 0.0, missing: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(5 + shift, 1, rows)
    frame = pd.DataFrame(
        {"x": x, "kind": rng.choice(["a", "b"], rows), "pred": 2 * x, "y": 2 * x + rng.normal(0, 1, rows)}
    )
    frame.loc[rng.random(rows) < missing, "x"] = None
    return frame


SCHEMA = Schema(task="regression", numerical=["x"], categorical=["kind"], prediction="pred", target="y")


def test_default_conditions_come_from_the_reference_and_pass_on_like_data():
    report = build_report(
        _frame(3000, 0), _frame(3000, 1), SCHEMA, sections=("drift", "quality", "performance")
    )
    conditions = default_conditions(report.to_dict())
    texts = [condition.text for condition in conditions]
    assert texts[:2] == ["current_rows > 0", "drift.dataset_drift == false"]
    assert "quality.columns.x.missing_share <= 0.02" in texts
    assert "quality.columns.x.out_of_range_share <= 0.05" in texts
    assert "quality.columns.kind.new_category_share <= 0.02" in texts
    mae = report.sections["performance"]["reference"]["mae"]
    (between,) = [c for c in conditions if c.path[-1] == "mae"]
    assert between.expected == pytest.approx(
        [mae * (1 - METRIC_TOLERANCE), mae * (1 + METRIC_TOLERANCE)], rel=1e-5
    )
    suite = run_checks(report)
    assert suite.generated and suite.passed, suite.failed


def test_default_conditions_fail_on_drift_missing_values_and_worse_errors():
    current = _frame(3000, 1, shift=1.5, missing=0.1).assign(pred=lambda f: f["pred"] + 1.5)
    report = build_report(_frame(3000, 0), current, SCHEMA, sections=("drift", "quality", "performance"))
    failed = {check.name for check in run_checks(report).failed}
    assert {"no dataset drift", "x: missing share", "x: values out of range"} <= failed
    assert any(name.startswith("mae within 10%") for name in failed)


def test_without_labels_the_defaults_hold_the_estimated_metrics():
    current = _frame(3000, 1).drop(columns="y")
    report = build_report(_frame(3000, 0), current, SCHEMA, sections=("drift", "quality", "performance"))
    paths = [".".join(c.path) for c in default_conditions(report.to_dict())]
    assert "performance.estimated.current.mae" in paths and "performance.current.mae" not in paths
    assert run_checks(report).passed


@pytest.mark.parametrize(
    "condition",
    [
        "performance.current.r2 != 0.5",
        "performance.current.r2 not_in [0.1, 0.2]",
        "performance.current.r2 == 0.5",
        "performance.current.r2 in [0.1, 0.2]",
    ],
)
def test_a_null_value_fails_whatever_the_operator(condition):
    (result,) = run_checks(REPORT, [condition]).checks
    assert not result.passed and "could not evaluate" in result.detail


def test_defaults_fail_when_the_current_data_has_no_rows_or_no_testable_feature():
    reference = _frame(3000, 0)
    empty = build_report(reference, reference.iloc[:0], SCHEMA, sections=("drift", "quality"))
    assert empty.sections["drift"]["dataset_drift"] is None
    failed = {check.name for check in run_checks(empty).failed}
    assert {"the current data has rows", "no dataset drift"} <= failed


def test_defaults_fail_when_the_schema_has_a_target_but_no_performance_can_be_had():
    report = {
        "current_rows": 10,
        "schema": {"task": "regression", "target": "y"},
        "performance": {"applicable": False, "reason": "no labelled rows in the current data"},
    }
    (check,) = [c for c in run_checks(report).checks if c.path == "performance.applicable"]
    assert not check.passed and "no labelled rows" in check.name
