"""The concept section: a concept change is caught while feature drift stays quiet; a control is quiet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelmon.demo import models
from modelmon.demo.data import credit_applications, taxi_trips
from modelmon.demo.incidents import apply_incident
from modelmon.engine.build import build_report
from modelmon.engine.concept import ConceptMonitor, concept_section
from modelmon.engine.profile import ProfileSpec
from modelmon.engine.report import ReportInputs
from modelmon.schema import Schema

TAXI = Schema(
    task="regression",
    numerical=models.TAXI_NUMERICAL,
    categorical=models.TAXI_CATEGORICAL,
    prediction=models.TAXI_PREDICTION,
    target=models.TAXI_TARGET,
    timestamp=models.TAXI_TIMESTAMP,
)
CREDIT = Schema(
    task="classification",
    numerical=models.CREDIT_NUMERICAL,
    categorical=models.CREDIT_CATEGORICAL,
    prediction=models.CREDIT_PREDICTION,
    target=models.CREDIT_TARGET,
    timestamp=models.CREDIT_TIMESTAMP,
)
CHANGE_AT = 1500


@pytest.fixture(scope="module")
def taxi() -> tuple[pd.DataFrame, pd.DataFrame]:
    # trained on other rows than the reference, so that reference errors are out-of-sample errors
    model = models.train_taxi_model(taxi_trips(5000, seed=10))
    reference = taxi_trips(5000, seed=0)
    scored = models.predict_frame(model, reference, "regression")
    return scored, models.predict_frame(model, taxi_trips(3000, seed=1, start="2026-02-01"), "regression")


@pytest.fixture(scope="module")
def credit() -> tuple[pd.DataFrame, pd.DataFrame]:
    model = models.train_credit_model(credit_applications(5000, seed=10))
    reference = credit_applications(5000, seed=0)
    scored = models.predict_frame(model, reference, "classification")
    current = credit_applications(3000, seed=1, start="2026-02-01")
    return scored, models.predict_frame(model, current, "classification")


def _report(reference: pd.DataFrame, current: pd.DataFrame, schema: Schema) -> dict:
    return build_report(reference, current, schema, sections=("concept", "drift")).sections


def _feature_drift(drift: dict, schema: Schema) -> list[str]:
    return [name for name in schema.features if drift["columns"][name]["detected"]]


def test_taxi_concept_change_is_caught_while_feature_drift_stays_quiet(taxi) -> None:
    reference, current = taxi
    changed = apply_incident("concept_change", current, at=CHANGE_AT)
    sections = _report(reference, changed, TAXI)
    concept = sections["concept"]
    assert concept["detected"] and concept["baseline"] == "reference sample"
    for name in ("adwin", "page_hinkley"):
        first = concept["detectors"][name]["detections"][0]
        assert CHANGE_AT <= first["index"] < CHANGE_AT + 300, name
        assert pd.Timestamp(first["timestamp"]) == changed[models.TAXI_TIMESTAMP].iloc[first["index"]]
    assert concept["performance"]["metric"] == "mae"
    assert concept["performance"]["relative_change"] > 0.5
    assert _feature_drift(sections["drift"], TAXI) == []
    assert not sections["drift"]["dataset_drift"]


def test_taxi_control_flags_nothing(taxi) -> None:
    reference, current = taxi
    concept = _report(reference, current, TAXI)["concept"]
    assert not concept["detected"], concept["detectors"]
    assert abs(concept["performance"]["relative_change"]) < 0.1


def test_credit_concept_change_is_caught_by_ddm(credit) -> None:
    reference, current = credit
    changed = apply_incident("concept_change", current, at=CHANGE_AT)
    sections = _report(reference, changed, CREDIT)
    concept = sections["concept"]
    assert concept["error"] == "misclassification (0/1)"
    ddm = concept["detectors"]["ddm"]["detections"]
    assert ddm and CHANGE_AT <= ddm[0]["index"] < CHANGE_AT + 400
    assert concept["performance"]["change"] > 0.05
    assert _feature_drift(sections["drift"], CREDIT) == []
    control = _report(reference, current, CREDIT)["concept"]
    assert not control["detected"], control["detectors"]


def test_rows_arriving_out_of_order_are_sorted_by_timestamp(taxi) -> None:
    reference, current = taxi
    changed = apply_incident("concept_change", current, at=CHANGE_AT)
    spec = ProfileSpec.fit(reference, TAXI)
    shuffled = changed.sample(frac=1.0, random_state=0)
    inputs = ReportInputs(spec.profile(reference), spec.profile(changed), reference_sample=reference)
    ordered = concept_section(ReportInputs(**{**inputs.__dict__, "current_stream": changed}))
    unordered = concept_section(ReportInputs(**{**inputs.__dict__, "current_stream": shuffled}))
    assert ordered["detectors"] == unordered["detectors"]


def test_not_applicable_without_targets(taxi) -> None:
    reference, current = taxi
    spec = ProfileSpec.fit(reference, TAXI)
    unlabelled = current.assign(**{models.TAXI_TARGET: np.nan})
    inputs = ReportInputs(spec.profile(reference), spec.profile(unlabelled), current_stream=unlabelled)
    section = concept_section(inputs)
    assert section["applicable"] is False and "0 current rows have a target" in section["reason"]
    no_target = Schema(numerical=["x"], prediction="p")
    frame = pd.DataFrame({"x": [1.0, 2.0] * 10, "p": 1.0})
    spec = ProfileSpec.fit(frame, no_target)
    section = concept_section(ReportInputs(spec.profile(frame), spec.profile(frame), current_stream=frame))
    assert "no target" in section["reason"]


def test_monitor_keeps_state_across_calls() -> None:
    rng = np.random.default_rng(2)
    errors = np.abs(rng.normal(0, 1, 4000)) * np.repeat([1.0, 2.5], 2000)
    whole = ConceptMonitor("regression", clip=4.0, scale=0.8)
    whole.update(errors)
    chunked = ConceptMonitor("regression", clip=4.0, scale=0.8)
    for chunk in np.array_split(errors, 37):
        chunked.update(chunk)
    assert chunked.detections == whole.detections
    assert chunked.seen == 4000 and chunked.detected == {"adwin": True, "page_hinkley": True}
    with pytest.raises(ValueError, match="task must be one of regression, classification"):
        ConceptMonitor("ranking")


def test_rows_with_an_infinite_target_or_prediction_give_no_error():
    from modelmon.engine.concept import labelled_errors

    frame = pd.DataFrame({"t": [np.inf, 1.0, None, 3.0], "p": [np.inf, 2.0, 1.0, -np.inf]})
    errors, index = labelled_errors(frame, "regression", "t", "p")
    assert errors.tolist() == [1.0] and index.tolist() == [1]
