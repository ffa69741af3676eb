from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelmon.demo import incidents, models
from modelmon.demo.data import credit_applications, taxi_trips
from modelmon.demo.incidents import DEFAULT_ARGUMENTS, INCIDENTS, apply_incident
from modelmon.errors import ConfigError, InputError, SchemaError

ROWS, AT = 4000, 2500
FRAMES = {"taxi": taxi_trips(ROWS, seed=3), "credit": credit_applications(ROWS, seed=3)}
TARGET = {"taxi": [models.TAXI_TARGET], "credit": [models.CREDIT_TARGET]}
PREDICTIONS = {"taxi": [models.TAXI_PREDICTION], "credit": [models.CREDIT_PROBA, models.CREDIT_PREDICTION]}


def _named_columns(dataset: str, name: str) -> set[str]:
    arguments = DEFAULT_ARGUMENTS[dataset][name]
    if name in ("concept_change", "segment_degradation"):
        return set(TARGET[dataset])
    if name in ("bias", "prediction_drift"):
        return set(PREDICTIONS[dataset])
    named = arguments.get("columns", arguments.get("column"))
    return {named} if isinstance(named, str) else set(named)


def _same(left: pd.Series, right: pd.Series) -> bool:
    # Compare values, not dtypes: a missing spike turns an int column into float.
    return left.astype(object).reset_index(drop=True).equals(right.astype(object).reset_index(drop=True))


def _changed_rows(before: pd.DataFrame, after: pd.DataFrame, column: str) -> np.ndarray:
    old, new = before[column].astype(object), after[column].astype(object)
    both_missing = old.isna() & new.isna()
    return np.flatnonzero(((old != new) & ~both_missing).to_numpy())


def test_every_incident_has_defaults_for_both_datasets_and_a_docstring():
    for dataset in ("taxi", "credit"):
        assert set(DEFAULT_ARGUMENTS[dataset]) == set(INCIDENTS)
    for incident in INCIDENTS.values():
        assert "Caught by" in (incident.__doc__ or ""), incident.__name__


@pytest.mark.parametrize("dataset", ["taxi", "credit"])
@pytest.mark.parametrize("name", sorted(INCIDENTS))
def test_incident_changes_only_its_columns_from_its_row_on(dataset, name):
    frame = FRAMES[dataset]
    untouched = frame.copy()
    changed = apply_incident(name, frame, at=AT, seed=1)
    pd.testing.assert_frame_equal(frame, untouched)  # the input is left alone
    assert list(changed.columns) == list(frame.columns)
    named = _named_columns(dataset, name)
    for column in frame.columns:
        if column not in named:
            pd.testing.assert_series_equal(changed[column], frame[column], obj=column)
            continue
        rows = _changed_rows(frame, changed, column)
        assert len(rows) > 0, f"{name} did not change {column}"
        assert rows.min() >= AT, f"{name} changed {column} before row {AT}"
    pd.testing.assert_frame_equal(apply_incident(name, frame, at=AT, seed=1), changed)


@pytest.mark.parametrize(
    "name", ["covariate_shift", "new_categories", "missing_spike", "type_errors", "outliers"]
)
def test_seed_chooses_the_rows(name):
    frame = FRAMES["credit"]
    column = sorted(_named_columns("credit", name))[0]
    # a numerical covariate shift moves every row; only the categorical one draws rows
    arguments = {"columns": ["region"]} if name == "covariate_shift" else {}
    column = "region" if name == "covariate_shift" else column
    first = _changed_rows(frame, apply_incident(name, frame, at=AT, seed=1, **arguments), column)
    second = _changed_rows(frame, apply_incident(name, frame, at=AT, seed=2, **arguments), column)
    assert not np.array_equal(first, second)


def test_timestamp_start_matches_row_start():
    trips = FRAMES["taxi"]
    by_row = incidents.missing_spike(trips, ["fare_amount"], at=AT)
    by_time = incidents.missing_spike(trips, ["fare_amount"], at=trips["pickup_time"][AT])
    pd.testing.assert_frame_equal(by_row, by_time)
    by_text = incidents.missing_spike(trips, ["fare_amount"], at=str(trips["pickup_time"][AT]))
    pd.testing.assert_frame_equal(by_row, by_text)


def test_covariate_shift_moves_numbers_by_standard_deviations():
    trips = FRAMES["taxi"]
    shifted = incidents.covariate_shift(trips, ["trip_distance"], at=AT, shift=1.0, scale=2.0)
    std = trips["trip_distance"].std(ddof=0)
    mean_gap = shifted["trip_distance"][AT:].mean() - trips["trip_distance"][AT:].mean()
    # scale stretches around the whole column's mean, which differs a little from the tail's
    assert mean_gap == pytest.approx(std, rel=0.15)
    assert shifted["trip_distance"][AT:].std() == pytest.approx(
        2 * trips["trip_distance"][AT:].std(), rel=0.05
    )
    assert (shifted["trip_distance"] >= 0).all()


def test_covariate_shift_on_categories_favours_the_rarest_value():
    apps = FRAMES["credit"]
    rarest = apps["region"].value_counts().index[-1]
    shifted = incidents.covariate_shift(apps, ["region"], at=AT, category_share=0.5)
    assert (shifted["region"][AT:] == rarest).mean() > 0.5
    assert shifted["region"].dtype == apps["region"].dtype


def test_new_categories_are_unseen_and_keep_integer_zones():
    trips = FRAMES["taxi"]
    changed = incidents.new_categories(trips, "PULocationID", at=AT, share=0.3)
    assert changed["PULocationID"].dtype == np.int64
    unseen = ~changed["PULocationID"].isin(trips["PULocationID"].unique())
    assert unseen[AT:].mean() == pytest.approx(0.3, abs=0.01)
    assert changed.loc[unseen, "PULocationID"].nunique() == 3


def test_missing_spike_share():
    apps = FRAMES["credit"]
    changed = incidents.missing_spike(apps, ["income", "age", "region"], at=AT, share=0.25)
    for column in ("income", "age", "region"):
        assert changed[column][:AT].notna().all()
        assert changed[column][AT:].isna().mean() == pytest.approx(0.25, abs=0.01)
    assert changed["age"].dtype == float


def test_type_errors_put_text_in_a_numerical_column():
    trips = FRAMES["taxi"]
    changed = incidents.type_errors(trips, "trip_distance", at=AT, share=0.1)
    assert changed["trip_distance"].dtype == object
    as_numbers = pd.to_numeric(changed["trip_distance"], errors="coerce")
    assert as_numbers[AT:].isna().mean() == pytest.approx(0.1, abs=0.01)
    assert set(changed["trip_distance"][as_numbers.isna()]) <= {"n/a", "?", "error"}
    assert (as_numbers.dropna() == trips["trip_distance"][as_numbers.notna()]).all()


def test_outliers_marker_names_the_changed_rows_only_when_asked():
    trips = FRAMES["taxi"]
    assert "injected_outlier" not in incidents.outliers(trips, ["trip_distance"], at=AT).columns
    changed = incidents.outliers(
        trips, ["trip_distance", "passenger_count"], at=AT, share=0.05, keep_marker=True
    )
    marked = np.flatnonzero(changed["injected_outlier"])
    assert len(marked) == round(0.05 * (ROWS - AT)) and marked.min() >= AT
    np.testing.assert_array_equal(_changed_rows(trips, changed, "trip_distance"), marked)
    threshold = trips["trip_distance"].mean() + 10 * trips["trip_distance"].std(ddof=0)
    assert (changed["trip_distance"][marked] >= threshold).all()
    assert changed["passenger_count"].dtype == np.int64


def test_concept_change_taxi_same_trips_take_longer():
    trips = FRAMES["taxi"]
    changed = incidents.concept_change(trips, at=AT, factor=1.4)
    ratio = changed["duration_actual"][AT:] / trips["duration_actual"][AT:]
    assert ratio[trips["duration_actual"][AT:] < 100].round(2).between(1.39, 1.41).all()
    pd.testing.assert_frame_equal(
        changed.drop(columns="duration_actual"), trips.drop(columns="duration_actual")
    )


def test_concept_change_credit_repayment_no_longer_follows_the_model():
    from sklearn.metrics import roc_auc_score

    apps = credit_applications(20_000, seed=8)
    changed = incidents.concept_change(apps, at=0)
    assert roc_auc_score(apps["repaid"], apps["proba"]) > 0.75
    assert roc_auc_score(changed["repaid"], changed["proba"]) < 0.6
    pd.testing.assert_frame_equal(changed.drop(columns="repaid"), apps.drop(columns="repaid"))


def test_segment_degradation_touches_one_segment():
    trips = FRAMES["taxi"]
    changed = incidents.segment_degradation(trips, "PULocationID", 74, at=AT, factor=1.5)
    rows = _changed_rows(trips, changed, "duration_actual")
    assert (trips["PULocationID"].iloc[rows] == 74).all()
    # trips already at the 180-minute cap cannot get longer
    expected = (trips["PULocationID"] == 74) & (trips.index >= AT) & (trips["duration_actual"] < 120)
    assert set(np.flatnonzero(expected)) <= set(rows)


def test_bias_lowers_approvals_for_one_group_only():
    apps = FRAMES["credit"]
    changed = incidents.bias(apps, "gender", "female", at=AT, drop=0.3)
    women = apps["gender"] == "female"
    rows = _changed_rows(apps, changed, "proba")
    assert rows.size > 0 and women.iloc[rows].all()
    after = apps.index >= AT
    assert changed["prediction"][women & after].mean() < apps["prediction"][women & after].mean() - 0.15
    pd.testing.assert_frame_equal(changed[~women], apps[~women])


def test_prediction_drift_moves_every_prediction_up():
    trips = FRAMES["taxi"]
    changed = incidents.prediction_drift(trips, at=AT, shift=0.5)
    assert (changed["duration"][AT:] >= trips["duration"][AT:]).all()
    assert changed["duration"][AT:].mean() == pytest.approx(1.5 * trips["duration"][AT:].mean(), rel=0.01)


def test_errors_name_the_problem():
    trips = FRAMES["taxi"]
    with pytest.raises(ConfigError, match="unknown incident 'flood'"):
        apply_incident("flood", trips, at=0)
    with pytest.raises(SchemaError, match="nope"):
        incidents.missing_spike(trips, ["nope"], at=0)
    with pytest.raises(InputError, match=r"share 1\.5"):
        incidents.missing_spike(trips, ["fare_amount"], at=0, share=1.5)
    with pytest.raises(InputError, match="negative"):
        incidents.missing_spike(trips, ["fare_amount"], at=-1)
    with pytest.raises(InputError, match="neither a row position nor a timestamp"):
        incidents.missing_spike(trips, ["fare_amount"], at="soon")
    with pytest.raises(SchemaError, match="not a demo frame"):
        incidents.concept_change(pd.DataFrame({"x": [1]}), at=0)
