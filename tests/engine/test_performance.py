from __future__ import annotations

import functools
import json

import numpy as np
import pandas as pd
import pytest
from health_cases import EDGE_CASES, edge_case, fit_spec
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from modelmon.engine.performance import PerformancePart
from modelmon.engine.performance_parts import N_SCORE_BINS, roc_auc_from_histograms
from modelmon.engine.performance_section import performance_section
from modelmon.engine.report import ReportInputs
from modelmon.schema import Schema

REGRESSION = Schema(task="regression", numerical=["x"], prediction="pred", target="y")
BINARY = Schema(
    task="classification", numerical=["x"], prediction="pred", target="y", probabilities=["proba"]
)
MULTICLASS = Schema(task="classification", numerical=["x"], prediction="pred", target="y")


def regression_frame(rows: int, seed: int = 0, bias: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.gamma(2.0, 5.0, rows) + 1.0
    return pd.DataFrame({"x": rng.normal(size=rows), "y": y, "pred": y + rng.normal(bias, 2.0, rows)})


def binary_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    proba = rng.beta(2, 2, rows)
    y = (rng.random(rows) < proba).astype(int)
    return pd.DataFrame(
        {"x": rng.normal(size=rows), "y": y, "proba": proba, "pred": (proba >= 0.5).astype(int)}
    )


def multiclass_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.choice(["cat", "dog", "eel"], rows, p=[0.5, 0.3, 0.2])
    pred = np.where(rng.random(rows) < 0.7, y, rng.choice(["cat", "dog", "eel"], rows))
    return pd.DataFrame({"x": rng.normal(size=rows), "y": y, "pred": pred})


def counts(schema: Schema, reference: pd.DataFrame, frame: pd.DataFrame):
    spec = fit_spec(reference, schema)
    return spec.profile(frame).parts["performance"].counts


def section(schema: Schema, reference: pd.DataFrame, current: pd.DataFrame, **options) -> dict:
    spec = fit_spec(reference, schema)
    return performance_section(ReportInputs(spec.profile(reference), spec.profile(current), options=options))


def test_regression_metrics_match_scikit_learn():
    frame = regression_frame(3000, seed=1)
    got = counts(REGRESSION, regression_frame(500), frame).metrics()
    y, pred = frame["y"], frame["pred"]
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, pred), rel=1e-12)
    assert got["rmse"] == pytest.approx(skm.root_mean_squared_error(y, pred), rel=1e-12)
    assert got["r2"] == pytest.approx(skm.r2_score(y, pred), rel=1e-10)
    assert got["mean_error"] == pytest.approx((pred - y).mean(), rel=1e-12)
    assert got["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, pred), rel=1e-12)


def test_mape_skips_zero_targets_where_scikit_learn_divides_by_epsilon():
    frame = regression_frame(200, seed=2)
    frame.loc[:9, "y"] = 0.0
    part = counts(REGRESSION, regression_frame(200), frame)
    nonzero = frame["y"] != 0
    assert part.zero_targets == 10
    expected = skm.mean_absolute_percentage_error(frame["y"][nonzero], frame["pred"][nonzero])
    assert part.metrics()["mape"] == pytest.approx(expected, rel=1e-12)
    # scikit-learn keeps the zero rows with a huge |error| / eps term instead
    assert skm.mean_absolute_percentage_error(frame["y"], frame["pred"]) > 1e6


def test_binary_metrics_match_scikit_learn():
    frame = binary_frame(5000, seed=3)
    part = counts(BINARY, binary_frame(500), frame)
    got = part.metrics()
    y, pred, proba = frame["y"], frame["pred"], frame["proba"]
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred), abs=1e-12)
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred), abs=1e-12)
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred), abs=1e-12)
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, proba), abs=1e-9)
    exact = skm.roc_auc_score(y, proba)
    assert abs(got["roc_auc"] - exact) <= part.roc_auc_error_bound() + 1e-12
    assert abs(got["roc_auc"] - exact) <= 1e-3


def test_labels_spelled_alike_in_target_and_prediction_are_one_class():
    from modelmon.engine.performance import PerformanceState

    reference = binary_frame(200).assign(pred=lambda f: f["pred"].astype(str))  # "1" beside a target of 1
    state = PerformanceState.fit(reference, BINARY)
    assert state is not None
    assert sorted(state.labels) == ["0", "1"] and state.probability == "proba"


def test_log_loss_clips_certain_probabilities_as_scikit_learn_does():
    frame = binary_frame(100, seed=4)
    frame.loc[:4, "proba"] = [0.0, 1.0, 0.0, 1.0, 1.0]
    got = counts(BINARY, binary_frame(200), frame).metrics()
    assert got["log_loss"] == pytest.approx(skm.log_loss(frame["y"], frame["proba"]), abs=1e-9)


def test_roc_auc_error_bound_holds_on_coarse_ties():
    rng = np.random.default_rng(5)
    # scores on a coarse grid put many pairs into one bin: the bound, not 1e-3, is what holds
    scores = rng.integers(0, 5, 400) / 4.0
    truth = (rng.random(400) < scores * 0.8 + 0.1).astype(int)
    bins = np.minimum((scores * N_SCORE_BINS).astype(int), N_SCORE_BINS - 1)
    auc, bound = roc_auc_from_histograms(
        np.bincount(bins[truth == 1], minlength=N_SCORE_BINS),
        np.bincount(bins[truth == 0], minlength=N_SCORE_BINS),
    )
    # exact ties in a bin are exact halves, so here the histogram value equals scikit-learn's
    assert auc == pytest.approx(skm.roc_auc_score(truth, scores), abs=1e-12)
    assert bound > 0.05


def test_multiclass_macro_metrics_match_scikit_learn():
    frame = multiclass_frame(3000, seed=6)
    got = counts(MULTICLASS, multiclass_frame(500), frame).metrics()
    y, pred = frame["y"], frame["pred"]
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    for name, metric in (
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
        ("f1", skm.f1_score),
    ):
        assert got[name] == pytest.approx(metric(y, pred, average="macro", zero_division=0), abs=1e-12)
    assert "roc_auc" not in got


def test_multiclass_with_a_class_absent_and_one_never_predicted():
    frame = multiclass_frame(400, seed=7)
    frame = frame[frame["y"] != "eel"].copy()
    frame.loc[frame["pred"] == "dog", "pred"] = "cat"
    got = counts(MULTICLASS, multiclass_frame(500), frame).metrics()
    y, pred = frame["y"], frame["pred"]
    for name, metric in (
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
        ("f1", skm.f1_score),
    ):
        assert got[name] == pytest.approx(metric(y, pred, average="macro", zero_division=0), abs=1e-12)


def _close_dicts(left, right, path=""):
    if isinstance(left, dict):
        assert left.keys() == right.keys(), path
        for key in left:
            _close_dicts(left[key], right[key], f"{path}.{key}")
    elif isinstance(left, float):
        assert left == pytest.approx(right, rel=1e-9, abs=1e-9), path
    else:
        assert left == right, path


@pytest.mark.parametrize(
    ("schema", "make"),
    [(REGRESSION, regression_frame), (BINARY, binary_frame), (MULTICLASS, multiclass_frame)],
)
def test_parts_add_like_concatenated_rows_and_round_trip_json(schema, make):
    spec = fit_spec(make(300), schema)
    first, second = make(200, seed=1), make(150, seed=2)
    second.loc[second.index[:20], "y"] = None
    total = spec.profile(first).parts["performance"] + spec.profile(second).parts["performance"]
    whole = spec.profile(pd.concat([first, second], ignore_index=True)).parts["performance"]
    _close_dicts(total.to_dict(), whole.to_dict())
    again = PerformancePart.from_dict(json.loads(json.dumps(total.to_dict())))
    assert again.to_dict() == total.to_dict()
    _close_dicts(again.counts.metrics(), whole.counts.metrics())


@pytest.mark.parametrize(
    ("schema", "make"),
    [(REGRESSION, regression_frame), (BINARY, binary_frame), (MULTICLASS, multiclass_frame)],
)
@pytest.mark.parametrize("case", [*EDGE_CASES, "target_column_absent"])
def test_contract_on_edge_inputs(schema, make, case):
    current = make(60, seed=3)
    current = (
        current.drop(columns="y") if case == "target_column_absent" else edge_case(current, case, schema.task)
    )
    result = section(schema, make(200), current)
    json.dumps(result)
    assert set(result) >= {"applicable", "estimated"}
    if case in ("empty", "no_targets", "target_column_absent"):
        assert result["applicable"] is False
        expected = "no target column" if case == "target_column_absent" else "no labelled rows"
        assert expected in result["reason"]
    else:
        assert result["applicable"] is True
        assert result["labelled_rows"] == len(current)
        assert set(result["delta"]) == set(result["current"])
    if case == "class_absent" and schema is BINARY:
        # one class only: ROC AUC is undefined, as in scikit-learn, the rest is measured
        assert result["current"]["roc_auc"] is None and result["current"]["accuracy"] is not None


def test_section_compares_with_reference_and_counts_unlabelled_rows():
    reference = regression_frame(1000, seed=0)
    current = regression_frame(1000, seed=1, bias=3.0)
    current.loc[:99, "y"] = None
    result = section(REGRESSION, reference, current)
    assert result["labelled_rows"] == 900 and result["unlabelled_rows"] == 100
    assert result["current"]["mean_error"] == pytest.approx(3.0, abs=0.3)
    assert result["delta"]["mae"] == pytest.approx(result["current"]["mae"] - result["reference"]["mae"])
    relative = result["delta"]["mae"] / result["reference"]["mae"]
    assert result["relative_change"]["mae"] == pytest.approx(relative)
    assert result["relative_change"]["mae"] > 0.3


def test_text_in_a_numerical_target_is_invalid_not_unlabelled():
    current = regression_frame(10, seed=1)
    current["y"] = current["y"].astype(object)
    current.loc[0, "y"] = "n/a"
    current.loc[1, "y"] = None
    part = counts(REGRESSION, regression_frame(100), current)
    assert (part.n, part.unlabelled, part.invalid) == (8, 1, 1)


def test_no_target_in_the_schema_is_not_applicable():
    schema = Schema(task="regression", numerical=["x"], prediction="pred")
    frame = regression_frame(100).drop(columns="y")
    result = section(schema, frame, frame)
    assert result == {
        "applicable": False,
        "reason": "the schema names no target column",
        "estimated": result["estimated"],
    }


def test_concept_change_raises_taxi_error():
    from modelmon.demo import models
    from modelmon.demo.data import taxi_trips
    from modelmon.demo.incidents import apply_incident

    schema = Schema(
        task="regression",
        numerical=models.TAXI_NUMERICAL,
        categorical=models.TAXI_CATEGORICAL,
        prediction=models.TAXI_PREDICTION,
        target=models.TAXI_TARGET,
    )
    reference, current = taxi_trips(3000, seed=0), taxi_trips(3000, seed=1)
    control = section(schema, reference, current)
    changed = section(schema, reference, apply_incident("concept_change", current, at=0))
    assert abs(control["relative_change"]["mae"]) < 0.1
    assert changed["relative_change"]["mae"] > 0.5


def test_fitted_states_round_trip_json_so_a_spec_can_be_stored():
    from modelmon.engine.estimated import CalibrationState
    from modelmon.engine.performance import PerformanceState
    from modelmon.engine.segments import GroupState

    schema = Schema(
        task="classification",
        numerical=["x"],
        prediction="pred",
        target="y",
        probabilities=["proba"],
        segments=["band"],
        sensitive=["band"],
    )
    reference = binary_frame(1000).assign(band=lambda f: np.where(f["x"] > 0, "high", "low"))
    spec = fit_spec(reference, schema)
    for name, kind in (
        ("performance", PerformanceState),
        ("estimated", CalibrationState),
        ("segments", GroupState),
        ("fairness", GroupState),
    ):
        state = spec.state[name]
        again = kind.from_dict(json.loads(json.dumps(state.to_dict())))
        assert again.to_dict() == state.to_dict(), name


_labels = st.one_of(st.none(), st.sampled_from([0, 1, 2, "x"]))
_probas = st.one_of(st.none(), st.floats(0.0, 1.0), st.just(1.5))
_rows = st.lists(st.tuples(_labels, _labels, _probas), max_size=30)


@functools.cache
def _binary_spec():
    """The spec of ``binary_frame(300)``, fitted once for the property test's many draws."""
    return fit_spec(binary_frame(300), BINARY)


@settings(max_examples=30, deadline=None)
@given(_rows, _rows)
def test_binary_part_of_any_rows_adds_exactly(first, second):
    spec = _binary_spec()

    def frame(rows):
        data = pd.DataFrame(rows, columns=["y", "pred", "proba"], dtype=object)
        return data.assign(x=0.0, proba=pd.to_numeric(data["proba"]))

    a, b = frame(first), frame(second)
    total = spec.profile(a).parts["performance"] + spec.profile(b).parts["performance"]
    whole = spec.profile(pd.concat([a, b], ignore_index=True)).parts["performance"]
    _close_dicts(total.to_dict(), whole.to_dict())
    assert whole.counts.rows == len(first) + len(second)
    assert whole.counts.labelled + whole.counts.unlabelled + whole.counts.invalid == whole.counts.rows


def test_a_reference_without_targets_gives_current_metrics_only():
    reference = binary_frame(500).drop(columns="y")
    result = section(BINARY, reference, binary_frame(300, seed=1))
    assert result["applicable"] is True and result["reference_labelled_rows"] == 0
    assert result["current"]["accuracy"] is not None
    assert result["reference"]["accuracy"] is None and result["delta"]["accuracy"] is None
    assert result["estimated"]["applicable"] is False


def test_a_positive_class_absent_from_the_reference_labels_is_named():
    schema = Schema(
        task="classification", numerical=["x"], prediction="pred", target="y", positive_class="yes"
    )
    frame = multiclass_frame(400).assign(
        y=lambda f: f["y"].eq("cat").map({True: "good", False: "bad"}),
        pred=lambda f: f["pred"].eq("cat").map({True: "good", False: "bad"}),
    )
    result = section(schema, frame, frame)
    assert any("'yes' never occurs" in note for note in result["notes"])
