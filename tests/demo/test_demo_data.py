from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from modelmon.demo import models
from modelmon.demo.data import TAXI_ZONES, credit_applications, taxi_trips

GENERATORS = [taxi_trips, credit_applications]


@pytest.mark.parametrize("generate", GENERATORS)
def test_same_seed_same_rows_other_seed_other_rows(generate):
    first = generate(500, seed=4)
    pd.testing.assert_frame_equal(first, generate(500, seed=4))
    other = generate(500, seed=5)
    assert not first.drop(columns=first.columns[:2]).equals(other.drop(columns=other.columns[:2]))


@pytest.mark.parametrize("generate", GENERATORS)
def test_hundred_thousand_rows_without_a_loop_over_rows(generate):
    generate(1000)  # warm imports
    started = time.perf_counter()
    frame = generate(100_000, seed=1)
    # vectorised it takes a tenth of a second; a Python loop over the rows would take tens of seconds
    assert time.perf_counter() - started < 10.0
    assert len(frame) == 100_000


@pytest.mark.parametrize("generate", GENERATORS)
def test_ids_unique_and_clock_regular(generate):
    frame = generate(1000, seed=2, start="2026-03-01 08:00", freq_seconds=0.5)
    id_column, time_column = frame.columns[:2]
    assert frame[id_column].is_unique
    assert frame[time_column].iloc[0] == pd.Timestamp("2026-03-01 08:00")
    assert (frame[time_column].diff().dropna() == pd.Timedelta(milliseconds=500)).all()


def test_taxi_columns_dtypes_and_ranges():
    trips = taxi_trips(20_000, seed=0)
    assert set(models.TAXI_NUMERICAL + models.TAXI_CATEGORICAL) <= set(trips.columns)
    for column in [*models.TAXI_NUMERICAL, models.TAXI_TARGET, models.TAXI_PREDICTION]:
        assert pd.api.types.is_numeric_dtype(trips[column]), column
    assert pd.api.types.is_datetime64_any_dtype(trips["pickup_time"])
    assert trips["PULocationID"].dtype == np.int64
    assert trips.notna().all().all()
    assert trips["trip_distance"].between(0.1, 40).all()
    assert 1.5 < trips["trip_distance"].median() < 3.5
    assert trips["duration_actual"].between(1, 180).all()
    assert 8 < trips["duration_actual"].median() < 25
    assert trips["passenger_count"].between(1, 6).all()
    assert trips["pickup_hour"].between(0, 23).all() and trips["pickup_hour"].nunique() == 24
    assert (trips["tip_amount"][trips["payment_type"] == "cash"] == 0).all()
    zone_counts = trips["PULocationID"].value_counts()
    assert set(zone_counts.index) <= set(TAXI_ZONES) and len(zone_counts) >= 10
    assert zone_counts.iloc[0] > 5 * zone_counts.iloc[-1], "zone frequencies should be skewed"


def test_taxi_noise_grows_with_duration():
    trips = taxi_trips(20_000, seed=0)
    errors = (trips["duration_actual"] - trips["duration"]).abs()
    long_trips = trips["duration"] > trips["duration"].quantile(0.8)
    short_trips = trips["duration"] < trips["duration"].quantile(0.2)
    assert errors[long_trips].mean() > 3 * errors[short_trips].mean()


def test_taxi_slower_at_rush_hour():
    trips = taxi_trips(20_000, seed=0)
    minutes_per_mile = trips["duration_actual"] / trips["trip_distance"]
    assert (
        minutes_per_mile[trips["pickup_hour"] == 8].median()
        > 1.4 * minutes_per_mile[trips["pickup_hour"] == 3].median()
    )


def test_credit_columns_dtypes_and_ranges():
    apps = credit_applications(20_000, seed=0)
    assert set(models.CREDIT_NUMERICAL + models.CREDIT_CATEGORICAL + models.CREDIT_SENSITIVE) <= set(
        apps.columns
    )
    assert apps.notna().all().all()
    assert apps["age"].between(18, 80).all()
    assert apps["income"].min() >= 3000
    assert apps["debt_ratio"].between(0, 1.2).all()
    assert (apps["credit_history_months"] <= (apps["age"] - 18) * 12).all()
    assert set(apps["repaid"].unique()) == {0, 1}
    assert 0.7 < apps["repaid"].mean() < 0.9
    assert apps["proba"].between(0, 1).all()
    assert (apps["prediction"] == (apps["proba"] >= 0.5)).all()
    assert set(apps["gender"].unique()) == {"female", "male"}
    assert (apps.loc[apps["age"] <= 25, "age_group"] == "18-25").all()


def test_credit_base_data_is_fair_and_informative():
    apps = credit_applications(40_000, seed=0)
    repaid_by_gender = apps.groupby("gender")["repaid"].mean()
    approved_by_gender = apps.groupby("gender")["prediction"].mean()
    assert abs(repaid_by_gender["female"] - repaid_by_gender["male"]) < 0.02
    assert abs(approved_by_gender["female"] - approved_by_gender["male"]) < 0.02
    repaid_by_employment = apps.groupby("employment")["repaid"].mean()
    assert repaid_by_employment["unemployed"] < repaid_by_employment["employed"] - 0.2


@pytest.mark.parametrize("generate", GENERATORS)
def test_every_seed_draws_from_the_same_distribution(generate):
    # The clean current file is another seed: any difference here would show up as drift in the control.
    first, second = generate(20_000, seed=0), generate(20_000, seed=1)
    for column in first.columns[2:]:
        if pd.api.types.is_numeric_dtype(first[column]) and first[column].nunique() > 10:
            gap = abs(first[column].median() - second[column].median())
            assert gap <= 0.05 * first[column].std(), column
        else:
            shares = first[column].value_counts(normalize=True)
            other = second[column].value_counts(normalize=True).reindex(shares.index, fill_value=0)
            assert (shares - other).abs().max() < 0.02, column


@pytest.mark.parametrize("module_name", ["data", "incidents", "models", "files"])
def test_public_surface_is_declared(module_name):
    import importlib

    module = importlib.import_module(f"modelmon.demo.{module_name}")
    assert len(set(module.__all__)) == len(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)
