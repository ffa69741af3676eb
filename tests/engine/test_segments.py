from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from health_cases import EDGE_CASES, edge_case, fit_spec
from sklearn import metrics as skm

from modelmon.demo import models
from modelmon.demo.data import credit_applications, taxi_trips
from modelmon.demo.incidents import apply_incident
from modelmon.engine.buckets import TOP_VALUES
from modelmon.engine.report import ReportInputs
from modelmon.engine.segments import SegmentsPart, segments_section
from modelmon.schema import Schema

REGRESSION = Schema(task="regression", numerical=["x"], prediction="pred", target="y", segments=["zone"])
CLASSIFICATION = Schema(
    task="classification", numerical=["x"], prediction="pred", target="y", segments=["zone"]
)
TAXI = Schema(
    task="regression",
    numerical=models.TAXI_NUMERICAL,
    categorical=models.TAXI_CATEGORICAL,
    prediction=models.TAXI_PREDICTION,
    target=models.TAXI_TARGET,
    segments=["PULocationID", "payment_type"],
)
CREDIT = Schema(
    task="classification",
    numerical=models.CREDIT_NUMERICAL,
    categorical=models.CREDIT_CATEGORICAL,
    prediction=models.CREDIT_PREDICTION,
    target=models.CREDIT_TARGET,
    probabilities=[models.CREDIT_PROBA],
    segments=["region", "housing"],
)


def frame(rows: int, seed: int = 0, task: str = "regression", zones: int = 25) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    # zone k has weight 1/(k+1): the reference's top 20 are kept, the tail falls in "other"
    weights = 1.0 / np.arange(1, zones + 1)
    zone = rng.choice([f"z{k}" for k in range(zones)], rows, p=weights / weights.sum())
    if task == "regression":
        y = rng.gamma(2.0, 5.0, rows)
        return pd.DataFrame({"x": y, "zone": zone, "y": y, "pred": y + rng.normal(0, 2, rows)})
    y = rng.integers(0, 2, rows)
    pred = np.where(rng.random(rows) < 0.8, y, 1 - y)
    return pd.DataFrame({"x": rng.normal(size=rows), "zone": zone, "y": y, "pred": pred})


def report(schema: Schema, reference: pd.DataFrame, current: pd.DataFrame, **options) -> dict:
    spec = fit_spec(reference, schema)
    return segments_section(ReportInputs(spec.profile(reference), spec.profile(current), options=options))


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_per_segment_metrics_match_scikit_learn_on_each_subset(task):
    schema = REGRESSION if task == "regression" else CLASSIFICATION
    reference, current = frame(3000, task=task), frame(3000, seed=1, task=task)
    result = report(schema, reference, current)
    values = result["columns"]["zone"]["values"]
    assert len(values) == TOP_VALUES + 1 and "other" in values
    top = set(values) - {"other"}
    for value, entry in values.items():
        rows = current[current["zone"] == value] if value != "other" else current[~current["zone"].isin(top)]
        assert entry["rows"] == len(rows)
        if task == "regression":
            assert entry["metrics"]["mae"] == pytest.approx(
                skm.mean_absolute_error(rows["y"], rows["pred"]), rel=1e-12
            )
        else:
            assert entry["metrics"]["accuracy"] == pytest.approx(
                skm.accuracy_score(rows["y"], rows["pred"]), abs=1e-12
            )
            assert entry["metrics"]["f1"] == pytest.approx(skm.f1_score(rows["y"], rows["pred"]), abs=1e-12)


def test_small_segments_are_listed_not_ranked():
    reference, current = frame(2000), frame(2000, seed=1)
    result = report(REGRESSION, reference, current, min_segment_rows=100)
    small = result["columns"]["zone"]["too_small"]
    labelled = {v: e["labelled_rows"] for v, e in result["columns"]["zone"]["values"].items()}
    assert small and all(
        labelled[v] < 100 or result["columns"]["zone"]["values"][v]["reference_labelled_rows"] < 100
        for v in small
    )
    ranked = {item["value"] for item in result["worst"]}
    assert not ranked & set(small)
    assert result["min_segment_rows"] == 100


def test_taxi_segment_degradation_names_the_segment_and_the_control_flags_nothing():
    reference, current = taxi_trips(5000, seed=0), taxi_trips(5000, seed=1)
    control = report(TAXI, reference, current)
    assert control["degraded"] == []
    degraded = report(TAXI, reference, apply_incident("segment_degradation", current, at=0))
    worst = degraded["worst"][0]
    assert (worst["column"], worst["value"], worst["degraded"]) == ("PULocationID", "74", True)
    assert worst["metric"] == "mae" and worst["degradation"] > 1.0


def test_credit_segment_degradation_names_the_region_and_the_control_flags_nothing():
    reference, current = credit_applications(5000, seed=0), credit_applications(5000, seed=1)
    assert report(CREDIT, reference, current)["degraded"] == []
    degraded = report(CREDIT, reference, apply_incident("segment_degradation", current, at=0))
    worst = degraded["worst"][0]
    assert (worst["column"], worst["value"], worst["metric"]) == ("region", "north", "accuracy")
    assert worst["degradation"] > 0.1
    # the other regions stay; segments of other columns that contain the north rows degrade less
    assert [item["value"] for item in degraded["degraded"] if item["column"] == "region"] == ["north"]
    assert all(item["degradation"] < worst["degradation"] / 2 for item in degraded["worst"][1:])


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_part_adds_like_concatenated_rows_and_round_trips_json(task):
    schema = REGRESSION if task == "regression" else CLASSIFICATION
    spec = fit_spec(frame(1000, task=task), schema)
    first, second = frame(300, seed=1, task=task), frame(20, seed=2, task=task, zones=3)
    second.loc[:4, "zone"] = None
    total = spec.profile(first).parts["segments"] + spec.profile(second).parts["segments"]
    whole = spec.profile(pd.concat([first, second], ignore_index=True)).parts["segments"]
    for value, counts in whole.groups["zone"].items():
        for name, metric in counts.metrics().items():
            expected = None if metric is None else pytest.approx(metric, rel=1e-9)
            assert total.groups["zone"][value].metrics()[name] == expected, (
                value,
                name,
            )
        assert total.groups["zone"][value].labelled == counts.labelled
    assert whole.groups["zone"]["missing"].rows == 5
    again = SegmentsPart.from_dict(json.loads(json.dumps(total.to_dict())))
    assert again.to_dict() == total.to_dict()


@pytest.mark.parametrize("task", ["regression", "classification"])
@pytest.mark.parametrize("case", [*EDGE_CASES, "segment_absent"])
def test_contract_on_edge_inputs(task, case):
    schema = REGRESSION if task == "regression" else CLASSIFICATION
    current = frame(200, seed=3, task=task)
    current = current.drop(columns="zone") if case == "segment_absent" else edge_case(current, case, task)
    result = report(schema, frame(1000, task=task), current)
    json.dumps(result)
    if case in ("empty", "no_targets"):
        assert result["applicable"] is False and "labelled" in result["reason"]
        return
    assert result["applicable"] is True
    values = result["columns"]["zone"]["values"]
    assert sum(entry["rows"] for entry in values.values()) == len(current)
    if case == "segment_absent":
        assert values["missing"]["rows"] == len(current)
    if case == "one_row":
        assert result["worst"] == [] and len(result["columns"]["zone"]["too_small"]) == len(values)


def test_not_applicable_without_segments():
    schema = Schema(task="regression", numerical=["x"], prediction="pred", target="y")
    result = report(schema, frame(100), frame(100))
    assert result == {"applicable": False, "reason": "the schema names no segment columns"}


def test_an_empty_window_says_there_are_no_rows_yet():
    from modelmon.engine.fairness import fairness_section
    from modelmon.engine.performance_section import performance_section

    schema = Schema(
        task="classification",
        numerical=["x"],
        prediction="pred",
        target="y",
        segments=["zone"],
        sensitive=["zone"],
    )
    reference = frame(500, task="classification")
    spec = fit_spec(reference, schema)
    inputs = ReportInputs(spec.profile(reference), spec.empty())
    for section in (performance_section, segments_section, fairness_section):
        result = section(inputs)
        assert result["applicable"] is False and result["reason"] == "no rows in the current data yet"
    # a window is a sum of profiles starting from the empty one: the parts come with the first rows
    window = spec.empty() + spec.profile(frame(100, seed=1, task="classification"))
    assert report(schema, reference, frame(100, seed=1, task="classification"))["applicable"] is True
    assert segments_section(ReportInputs(spec.profile(reference), window))["applicable"] is True
