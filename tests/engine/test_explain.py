"""Explainability: attributions equal shap's own, add up to the predictions, and drift when they should."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingClassifier, RandomForestRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelmon.demo import models
from modelmon.demo.data import credit_applications, taxi_trips
from modelmon.engine.explain import AttributionSums, explain_rows, explain_section
from modelmon.engine.profile import Profile, ProfileSpec
from modelmon.engine.report import ReportInputs
from modelmon.schema import Schema

shap = pytest.importorskip("shap")

NUMERICAL = models.TAXI_NUMERICAL
TAXI = Schema(numerical=NUMERICAL, prediction=models.TAXI_PREDICTION, target=models.TAXI_TARGET)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return taxi_trips(2000, seed=0)


@pytest.fixture(scope="module")
def forest(reference: pd.DataFrame) -> RandomForestRegressor:
    model = RandomForestRegressor(n_estimators=30, max_depth=8, random_state=0)
    return model.fit(reference[NUMERICAL], reference[models.TAXI_TARGET])


def _inputs(reference: pd.DataFrame, current: pd.DataFrame, schema: Schema, model=None) -> ReportInputs:
    spec = ProfileSpec.fit(reference, schema)
    return ReportInputs(
        spec.profile(reference),
        spec.profile(current),
        reference_sample=reference,
        current_sample=current,
        model=model,
    )


def test_tree_attributions_equal_shap_and_add_up(
    reference: pd.DataFrame, forest: RandomForestRegressor
) -> None:
    rows = taxi_trips(300, seed=1)
    ours = explain_rows(forest, rows, reference, NUMERICAL)
    theirs = shap.TreeExplainer(forest)(rows[NUMERICAL])
    assert ours.method == "shap.TreeExplainer"
    np.testing.assert_array_equal(ours.values, theirs.values)
    additive = ours.values.sum(axis=1) + ours.base_values
    np.testing.assert_allclose(additive, forest.predict(rows[NUMERICAL]), rtol=0, atol=1e-6)


def test_classifier_attributions_are_for_the_positive_class() -> None:
    frame = credit_applications(1500, seed=0)
    features = models.CREDIT_NUMERICAL
    model = GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0)
    model.fit(frame[features], frame[models.CREDIT_TARGET])
    ours = explain_rows(model, frame.iloc[:200], frame, features, positive_class=1)
    assert ours.values.shape == (200, len(features))
    assert ours.output == "raw model output (log-odds) for class 1"
    additive = ours.values.sum(axis=1) + ours.base_values
    np.testing.assert_allclose(additive, model.decision_function(frame.iloc[:200][features]), atol=1e-6)
    assert max(ours.mean_abs, key=ours.mean_abs.get) in {"income", "debt_ratio"}
    flipped = explain_rows(model, frame.iloc[:200], frame, features, positive_class=0)
    np.testing.assert_array_equal(flipped.values, -ours.values)


def test_control_shows_no_attribution_drift(reference: pd.DataFrame, forest: RandomForestRegressor) -> None:
    quiet = explain_section(_inputs(reference, taxi_trips(500, seed=1), TAXI, forest))
    assert quiet["applicable"] and quiet["source"] == "model"
    assert quiet["rows"] == {"reference": 1000, "current": 500}
    assert not quiet["detected"], quiet["features"]


def test_attribution_drift_is_flagged_when_another_feature_takes_over() -> None:
    rng = np.random.default_rng(1)
    schema = Schema(numerical=["x1", "x2"])
    reference = pd.DataFrame({"x1": rng.normal(0, 1, 1000), "x2": rng.normal(0, 1, 1000)})
    model = RandomForestRegressor(n_estimators=20, max_depth=6, random_state=0)
    model.fit(reference, 3 * reference["x1"] + reference["x2"])
    # x1 barely varies any more and x2 varies three times as much: x2 now drives the predictions
    current = pd.DataFrame({"x1": rng.normal(0, 0.1, 1000), "x2": rng.normal(0, 2, 1000)})
    section = explain_section(_inputs(reference, current, schema, model))
    assert section["detected"] and section["top_feature_changed"]
    assert section["ranking"] == {"reference": ["x1", "x2"], "current": ["x2", "x1"]}
    assert section["features"]["x1"]["relative_change"] < -0.5
    assert section["current"]["x2"] == section["features"]["x2"]["current"] > section["current"]["x1"]
    assert section["features"]["x2"]["share_change"] > 0.1


def test_attributions_sent_with_events_are_summed_and_compared() -> None:
    rng = np.random.default_rng(0)
    features = ["x1", "x2", "x3"]
    schema = Schema(numerical=features)

    def frame(weights: list[float], rows: int) -> pd.DataFrame:
        data = pd.DataFrame(rng.normal(size=(rows, 3)), columns=features)
        for name, weight in zip(features, weights, strict=True):
            data["attr_" + name] = weight * data[name]
        return data

    # the relation changed: the model that produced the current attributions leans on x2, not x1
    reference, current = frame([3.0, 1.0, 0.5], 800), frame([1.0, 3.0, 0.5], 800)
    spec = ProfileSpec.fit(reference, schema)
    halves = spec.profile(current.iloc[:300]) + spec.profile(current.iloc[300:])
    whole = spec.profile(current)
    assert halves.parts["explain"].counts == whole.parts["explain"].counts == {name: 800 for name in features}
    assert halves.parts["explain"].sums == pytest.approx(whole.parts["explain"].sums)
    assert Profile.from_dict(whole.to_dict(), spec).parts["explain"] == whole.parts["explain"]
    means = whole.parts["explain"].means
    assert means["x2"] == pytest.approx(np.abs(current["attr_x2"]).mean())

    as_objects = current[features].assign(
        attributions=[{name: row["attr_" + name] for name in features} for _, row in current.iterrows()]
    )
    assert spec.profile(as_objects).parts["explain"].sums == pytest.approx(whole.parts["explain"].sums)

    section = explain_section(ReportInputs(spec.profile(reference), whole))
    assert section["source"] == "attributions sent with events"
    assert section["top_feature_changed"] and section["detected"]
    assert section["ranking"]["reference"][0] == "x1" and section["ranking"]["current"][0] == "x2"
    assert section["features"]["x2"]["drifted"]


def test_not_applicable_without_model_or_attributions(reference: pd.DataFrame) -> None:
    section = explain_section(_inputs(reference, taxi_trips(300, seed=1), TAXI))
    assert section == {
        "applicable": False,
        "reason": "no model or attributions given: pass --model-file or send attributions with events",
    }
    assert AttributionSums.from_dict({"sums": {"a": 2.0}, "counts": {"a": 4}}).means == {"a": 0.5}


@pytest.mark.slow
def test_permutation_attributions_equal_shap_and_add_up(reference: pd.DataFrame) -> None:
    # not a tree model: antithetic permutations on raw features, shap's own orders for the seed
    model = make_pipeline(StandardScaler(), Ridge()).fit(reference[NUMERICAL], reference[models.TAXI_TARGET])
    rows, background = taxi_trips(20, seed=1), reference.iloc[:30]
    ours = explain_rows(model, rows, background, NUMERICAL, seed=3)
    assert ours.method == "permutation SHAP (as shap.explainers.Permutation)"
    data = background[NUMERICAL].to_numpy(dtype=float)

    def masker(mask: np.ndarray, row: np.ndarray) -> np.ndarray:
        out = data.copy()
        out[:, mask] = row[mask]
        return out

    masker.shape = data.shape
    predict = lambda matrix: model.predict(pd.DataFrame(matrix, columns=NUMERICAL))  # noqa: E731
    explainer = shap.explainers.Permutation(predict, masker, seed=3)
    theirs = explainer(
        rows[NUMERICAL].to_numpy(dtype=float), max_evals=2 * (2 * len(NUMERICAL) + 1), silent=True
    )
    # the same orders and steps; only the sums over the background are added up in another order
    np.testing.assert_allclose(ours.values, theirs.values, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ours.base_values, theirs.base_values, rtol=1e-12)
    np.testing.assert_allclose(
        ours.values.sum(axis=1) + ours.base_values, model.predict(rows[NUMERICAL]), atol=1e-6
    )


def test_permutation_values_of_a_model_with_interactions_equal_shaps() -> None:
    """Where the order matters (a product of features), the values are shap's for the same seed."""
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(rng.normal(size=(400, 4)), columns=["a", "b", "c", "d"])
    target = frame["a"] * frame["b"] + np.maximum(frame["c"], 0) * 3 - frame["d"]
    model = make_pipeline(StandardScaler(), RandomForestRegressor(n_estimators=20, random_state=0))
    model.fit(frame, target)
    rows, background = frame.iloc[:25], frame.iloc[100:130]
    ours = explain_rows(model, rows, background, list(frame.columns), seed=11)
    data = background.to_numpy(dtype=float)

    def masker(mask: np.ndarray, row: np.ndarray) -> np.ndarray:
        out = data.copy()
        out[:, mask] = row[mask]
        return out

    masker.shape = data.shape
    predict = lambda matrix: model.predict(pd.DataFrame(matrix, columns=frame.columns))  # noqa: E731
    theirs = shap.explainers.Permutation(predict, masker, seed=11)(
        rows.to_numpy(dtype=float), max_evals=2 * (2 * 4 + 1), silent=True
    )
    np.testing.assert_allclose(ours.values, theirs.values, rtol=1e-9, atol=1e-9)


class _CountingModel:
    """A regression model that counts its calls and the rows it is given."""

    def __init__(self, model) -> None:
        self.model, self.calls, self.rows = model, 0, 0

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        self.calls, self.rows = self.calls + 1, self.rows + len(frame)
        return self.model.predict(frame)


def test_permutation_model_calls_are_few_and_bounded(reference: pd.DataFrame, monkeypatch) -> None:
    from modelmon.engine import explain

    fitted = make_pipeline(StandardScaler(), Ridge()).fit(reference[NUMERICAL], reference[models.TAXI_TARGET])
    model = _CountingModel(fitted)
    rows, background = taxi_trips(60, seed=2), reference.iloc[:30]
    ours = explain_rows(model, rows, background, NUMERICAL)
    width = len(NUMERICAL)
    per_row = explain.PERMUTATIONS * (2 * width - 1) * 30
    # a masked row made twice (a count or an hour taken from the background) is given once
    assert model.rows == ours.model_rows < 30 + 60 * per_row
    assert model.calls == ours.model_calls == 2  # the background once, every explained row at once
    monkeypatch.setattr(explain, "MODEL_ROWS", 10 * per_row)  # at most ten explained rows a call
    model.calls = model.rows = 0
    bounded = explain_rows(model, rows, background, NUMERICAL)
    assert model.calls == 1 + 6 and model.rows == bounded.model_rows <= 30 + 60 * per_row
    np.testing.assert_allclose(bounded.values, ours.values, rtol=1e-12)


def test_masked_rows_made_twice_are_predicted_once_with_the_same_values(
    reference: pd.DataFrame, monkeypatch
) -> None:
    from modelmon.engine import explain

    model = models.train_taxi_model(reference)
    features = models.TAXI_NUMERICAL + models.TAXI_CATEGORICAL
    rows = taxi_trips(20, seed=1)
    rows.loc[rows.index[::3], "fare_amount"] = np.nan  # a missing value matches itself
    once = explain_rows(model, rows, reference.iloc[:30], features)
    monkeypatch.setattr(explain, "_distinct_rows", lambda matrix: (matrix, np.arange(len(matrix))))
    every = explain_rows(model, rows, reference.iloc[:30], features)
    np.testing.assert_array_equal(once.values, every.values)
    np.testing.assert_array_equal(once.base_values, every.base_values)
    assert every.model_rows == 30 + 20 * explain.PERMUTATIONS * (2 * len(features) - 1) * 30
    assert once.model_rows < 0.7 * every.model_rows


@pytest.mark.slow
def test_demo_pipeline_is_explained_on_raw_features(reference: pd.DataFrame) -> None:
    model = models.train_taxi_model(reference)
    features = models.TAXI_NUMERICAL + models.TAXI_CATEGORICAL
    rows = taxi_trips(12, seed=1)
    ours = explain_rows(model, rows, reference.iloc[:20], features)
    assert ours.output == "prediction" and ours.values.shape == (12, len(features))
    np.testing.assert_allclose(ours.values.sum(axis=1) + ours.base_values, model.predict(rows), atol=1e-6)
    assert max(ours.mean_abs, key=ours.mean_abs.get) in {"trip_distance", "fare_amount"}
