from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.pipeline import Pipeline

from modelmon.demo import incidents, models
from modelmon.demo.data import credit_applications, taxi_trips
from modelmon.errors import ConfigError, InputError, SchemaError


@pytest.fixture(scope="module")
def taxi_model():
    return models.train_taxi_model(taxi_trips(20_000, seed=11))


@pytest.fixture(scope="module")
def credit_model():
    return models.train_credit_model(credit_applications(20_000, seed=11))


def test_taxi_model_scores_well_on_clean_data(taxi_model):
    scored = models.predict_frame(taxi_model, taxi_trips(5000, seed=12), "regression")
    assert r2_score(scored["duration_actual"], scored["duration"]) > 0.6


def test_credit_model_scores_well_on_clean_data(credit_model):
    scored = models.predict_frame(credit_model, credit_applications(5000, seed=12), "classification")
    assert roc_auc_score(scored["repaid"], scored["proba"]) > 0.7
    assert (scored["prediction"] == (scored["proba"] >= models.APPROVAL_THRESHOLD)).all()


def test_generators_score_with_a_given_model(taxi_model, credit_model):
    trips = taxi_trips(300, seed=13, model=taxi_model)
    expected = models.predict_frame(taxi_model, taxi_trips(300, seed=13), "regression")
    assert trips.equals(expected)
    apps = credit_applications(300, seed=13, model=credit_model)
    assert apps["proba"].equals(models.predict_frame(credit_model, apps, "classification")["proba"])


def test_models_are_pipelines_that_say_whether_they_classify(taxi_model, credit_model):
    assert isinstance(taxi_model, Pipeline) and isinstance(credit_model, Pipeline)
    assert not hasattr(taxi_model, "predict_proba")
    assert hasattr(credit_model, "predict_proba")


def test_training_is_deterministic():
    trips = taxi_trips(3000, seed=14)
    first, second = models.train_taxi_model(trips), models.train_taxi_model(trips)
    np.testing.assert_array_equal(first.predict(trips), second.predict(trips))


def test_models_survive_data_incidents(taxi_model, credit_model):
    trips = taxi_trips(2000, seed=15)
    for name in ("new_categories", "missing_spike", "type_errors"):
        broken = incidents.apply_incident(name, trips, at=1000)
        scored = models.predict_frame(taxi_model, broken, "regression")
        assert scored["duration"].notna().all() and (scored["duration"] > 0).all(), name
    apps = incidents.apply_incident(
        "missing_spike", credit_applications(2000, seed=15), at=0, columns=["region"]
    )
    assert models.predict_frame(credit_model, apps, "classification")["proba"].between(0, 1).all()


def test_float_zone_ids_mean_the_same_zones(taxi_model):
    trips = taxi_trips(500, seed=16)
    as_float = trips.astype({"PULocationID": float, "DOLocationID": float})
    np.testing.assert_allclose(taxi_model.predict(as_float), taxi_model.predict(trips))


def test_save_and_load_round_trip(tmp_path, credit_model):
    apps = credit_applications(200, seed=17)
    path = models.save_model(credit_model, tmp_path / "nested" / "credit.pkl")
    loaded = models.load_model(path)
    np.testing.assert_array_equal(loaded.predict_proba(apps), credit_model.predict_proba(apps))
    assert pickle.loads(path.read_bytes()).classes_.tolist() == [0, 1]


def test_errors_name_the_problem(tmp_path, taxi_model):
    with pytest.raises(InputError, match="does not exist"):
        models.load_model(tmp_path / "missing.pkl")
    with pytest.raises(ConfigError, match="unknown task 'ranking'"):
        models.predict_frame(taxi_model, taxi_trips(10), "ranking")
    with pytest.raises(SchemaError, match="trip_distance"):
        models.predict_frame(taxi_model, taxi_trips(10).drop(columns="trip_distance"), "regression")
    with pytest.raises(SchemaError, match="no target column 'repaid'"):
        models.train_credit_model(credit_applications(100).drop(columns="repaid"))
