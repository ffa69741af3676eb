"""Synthetic demo datasets: taxi trip durations (regression) and credit applications (classification).

Both generators are deterministic by ``seed`` and vectorised (100k rows take a fraction of a second).
The "world" (zone congestion, hourly traffic, credit risk weights) is fixed; the seed only draws rows.

Rows arrive one every ``freq_seconds`` on the timestamp column: that column is the clock of a simulated
stream, not a calendar of real trips, so time-of-day features are drawn independently of it and every
window of rows has the same distribution until an incident (see ``modelmon.demo.incidents``) says otherwise.

>>> trips = taxi_trips(1000, seed=1)
>>> trips.shape, bool(trips["duration_actual"].between(1, 180).all())
((1000, 15), True)
>>> credit = credit_applications(1000, seed=1)
>>> sorted(credit["repaid"].unique().tolist()), sorted(credit["gender"].unique().tolist())
([0, 1], ['female', 'male'])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

__all__ = [
    "TAXI_ZONES",
    "credit_applications",
    "credit_repay_logit",
    "taxi_expected_duration",
    "taxi_trips",
]

#: NYC green-taxi zone ids, most frequent first (frequencies follow a Zipf law)
TAXI_ZONES: tuple[int, ...] = (74, 75, 41, 42, 166, 7, 82, 95, 97, 129, 130, 244, 65, 25, 255, 152, 116, 260)
#: the same zones, most frequent drop-off first (people are dropped off elsewhere than picked up)
_DROPOFF_ZONES: tuple[int, ...] = (
    42,
    74,
    7,
    166,
    41,
    129,
    75,
    244,
    82,
    97,
    260,
    95,
    65,
    152,
    25,
    116,
    130,
    255,
)
# Speed multiplier of each zone above (< 1: congested); fixed so that every seed sees the same city.
_ZONE_SPEED = np.array(
    [0.75, 0.8, 0.85, 0.9, 0.8, 1.05, 1.1, 1.15, 0.7, 1.2, 1.0, 0.95, 0.9, 1.1, 0.72, 1.0, 0.88, 1.12]
)
# Share of trips starting in each hour of the day (night lull, morning and evening peaks).
_HOUR_WEIGHTS = np.array(
    [3, 2, 1.5, 1, 1, 1.5, 3, 5, 6, 5, 4.5, 4.5, 5, 5, 5.5, 6, 6.5, 7, 7, 6, 5.5, 5, 4.5, 4]
)
# Speed multiplier of each hour: rush hours are slow, nights are fast.
_HOUR_SPEED = np.array([1.3] * 6 + [0.9, 0.7, 0.68, 0.75] + [0.85] * 6 + [0.65] * 4 + [1.0] * 4)
_BASE_SPEED_MPH = 14.0


def _zipf(n: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return weights / weights.sum()


def _ids(prefix: str, rows: int) -> list[str]:
    return [f"{prefix}{i:08d}" for i in range(rows)]


def _clock(start: str, rows: int, freq_seconds: float) -> pd.DatetimeIndex:
    return pd.Timestamp(start) + pd.to_timedelta(np.arange(rows) * freq_seconds, unit="s")


def taxi_expected_duration(df: pd.DataFrame) -> np.ndarray:
    """Noise-free trip duration in minutes: distance over a speed set by hour, weekday and both zones.

    >>> trip = pd.DataFrame({"trip_distance": [3.0], "pickup_hour": [8], "pickup_weekday": [1],
    ...                      "PULocationID": [74], "DOLocationID": [7]})
    >>> round(float(taxi_expected_duration(trip)[0]), 1)
    26.1
    """
    zone_speed = dict(zip(TAXI_ZONES, _ZONE_SPEED, strict=True))
    pickup_speed = pd.Series(df["PULocationID"]).map(zone_speed).fillna(1.0).to_numpy(float)
    dropoff_speed = pd.Series(df["DOLocationID"]).map(zone_speed).fillna(1.0).to_numpy(float)
    hour = pd.to_numeric(df["pickup_hour"], errors="coerce").fillna(12).to_numpy(int) % 24
    weekend = pd.to_numeric(df["pickup_weekday"], errors="coerce").fillna(0).to_numpy() >= 5
    speed = _BASE_SPEED_MPH * _HOUR_SPEED[hour] * np.where(weekend, 1.15, 1.0)
    speed = speed * pickup_speed * np.sqrt(dropoff_speed)
    distance = pd.to_numeric(df["trip_distance"], errors="coerce").to_numpy(float)
    return 1.5 + 60.0 * distance / speed


def taxi_trips(
    rows: int,
    seed: int = 0,
    start: str = "2026-01-01",
    freq_seconds: float = 1.0,
    model: Pipeline | None = None,
    id_prefix: str | None = None,
) -> pd.DataFrame:
    """Taxi trips like the NYC green-taxi data, with the trip duration in minutes as the target.

    Columns: ``ride_id``, ``pickup_time`` (one row every ``freq_seconds`` from ``start``); numerical
    ``trip_distance`` (miles), ``fare_amount``, ``tip_amount``, ``tolls_amount``, ``passenger_count``,
    ``pickup_hour``, ``pickup_weekday``; categorical ``PULocationID``, ``DOLocationID`` (int zone ids,
    Zipf-skewed), ``payment_type``, ``vendor``; target ``duration_actual`` (minutes, multiplicative
    noise so errors grow with the trip); prediction ``duration``, from ``model`` when given (see
    ``modelmon.demo.models.predict_frame``), else the true function with small noise.

    >>> trips = taxi_trips(3, seed=7)
    >>> trips["ride_id"].tolist()
    ['taxi-7-00000000', 'taxi-7-00000001', 'taxi-7-00000002']
    >>> trips.equals(taxi_trips(3, seed=7))
    True
    """
    rng = np.random.default_rng(seed)
    n_zones = len(TAXI_ZONES)
    zones = np.array(TAXI_ZONES)
    pickup = zones[rng.choice(n_zones, rows, p=_zipf(n_zones, 0.9))]
    dropoff = np.array(_DROPOFF_ZONES)[rng.choice(n_zones, rows, p=_zipf(n_zones, 0.7))]
    drawn = np.clip(rng.lognormal(np.log(2.2), 0.75, rows), 0.1, 40.0)
    distance = np.round(np.where(pickup == dropoff, drawn * 0.6 + 0.1, drawn), 2)
    trips = pd.DataFrame(
        {
            "ride_id": _ids(id_prefix if id_prefix is not None else f"taxi-{seed}-", rows),
            "pickup_time": _clock(start, rows, freq_seconds),
            "trip_distance": distance,
            "passenger_count": rng.choice(np.arange(1, 7), rows, p=[0.72, 0.14, 0.05, 0.03, 0.04, 0.02]),
            "pickup_hour": rng.choice(24, rows, p=_HOUR_WEIGHTS / _HOUR_WEIGHTS.sum()),
            "pickup_weekday": rng.integers(0, 7, rows),
            "PULocationID": pickup,
            "DOLocationID": dropoff,
            "payment_type": rng.choice(
                ["card", "cash", "no_charge", "dispute"], rows, p=[0.6, 0.37, 0.02, 0.01]
            ),
            "vendor": rng.choice(["VTS", "CMT"], rows, p=[0.8, 0.2]),
        }
    )
    expected = taxi_expected_duration(trips)
    fare = 3.0 + 2.5 * distance + 0.25 * expected + rng.normal(0, 1.0, rows)
    trips["fare_amount"] = np.round(np.maximum(fare, 3.0), 2)
    tip_share = np.where(rng.random(rows) < 0.15, 0.0, rng.uniform(0.1, 0.25, rows))
    trips["tip_amount"] = np.round(
        np.where(trips["payment_type"] == "card", tip_share * trips["fare_amount"], 0.0), 2
    )
    trips["tolls_amount"] = np.where((distance > 8) & (rng.random(rows) < 0.3), 6.94, 0.0)
    # Multiplicative noise: long trips vary more in minutes than short ones (heteroscedastic).
    actual = expected * rng.lognormal(0.0, 0.2, rows) + rng.normal(0, 0.5, rows)
    trips["duration_actual"] = np.round(np.clip(actual, 1.0, 180.0), 2)
    trips["duration"] = np.round(expected * rng.lognormal(0.0, 0.08, rows), 2)
    trips = trips[_TAXI_ORDER]
    if model is not None:
        from modelmon.demo.models import predict_frame

        trips = predict_frame(model, trips, "regression")
    return trips


_TAXI_ORDER = [
    "ride_id",
    "pickup_time",
    "trip_distance",
    "fare_amount",
    "tip_amount",
    "tolls_amount",
    "passenger_count",
    "pickup_hour",
    "pickup_weekday",
    "PULocationID",
    "DOLocationID",
    "payment_type",
    "vendor",
    "duration_actual",
    "duration",
]

_EMPLOYMENT = ("employed", "self_employed", "unemployed", "student", "retired")
_HOUSING = ("own", "rent", "mortgage")
_PURPOSE = ("debt_consolidation", "car", "home", "education", "business", "other")
_REGIONS = ("north", "south", "east", "west", "central")
_AGE_GROUPS = ("18-25", "26-40", "41-60", "61+")
# Log-odds of repaying added by each category (same order as above).
_EFFECTS = {
    "employment": (_EMPLOYMENT, np.array([0.0, -0.2, -1.1, -0.5, 0.1])),
    "housing": (_HOUSING, np.array([0.35, -0.2, 0.15])),
    "purpose": (_PURPOSE, np.array([-0.25, 0.1, 0.2, -0.1, -0.45, 0.0])),
}


def _text(values: tuple[str, ...], codes: np.ndarray) -> pd.Series:
    # Indexing an object array then building one string column is 10x faster than mapping strings.
    return pd.Series(np.array(values, dtype=object)[codes], dtype="str")


def _effect(column: pd.Series, values: tuple[str, ...], effects: np.ndarray) -> np.ndarray:
    codes = pd.Categorical(column, categories=values).codes
    return np.where(codes >= 0, effects[codes], 0.0)


def credit_repay_logit(df: pd.DataFrame) -> np.ndarray:
    """Log-odds that an applicant repays: income, debt, loan size, history, employment, housing, purpose.

    Gender plays no part (the base data is fair); ``modelmon.demo.incidents.bias`` breaks that on purpose.

    >>> applicant = pd.DataFrame({"income": [48000.0], "debt_ratio": [0.3], "loan_amount": [12000.0],
    ...     "credit_history_months": [120], "num_open_accounts": [3], "employment": ["employed"],
    ...     "housing": ["rent"], "purpose": ["car"]})
    >>> round(float(credit_repay_logit(applicant)[0]), 2)
    1.86
    """
    income = pd.to_numeric(df["income"], errors="coerce").to_numpy(float)
    loan = pd.to_numeric(df["loan_amount"], errors="coerce").to_numpy(float)
    debt = pd.to_numeric(df["debt_ratio"], errors="coerce").to_numpy(float)
    history = pd.to_numeric(df["credit_history_months"], errors="coerce").to_numpy(float)
    accounts = pd.to_numeric(df["num_open_accounts"], errors="coerce").to_numpy(float)
    logit = (
        1.8
        + 1.0 * np.log(income / 48000.0)
        - 3.0 * (debt - 0.34)
        - 1.5 * (loan / income - 0.25)
        + 0.006 * (history - 120.0)
        - 0.08 * (accounts - 3.5)
    )
    for column, (values, effects) in _EFFECTS.items():
        logit = logit + _effect(df[column], values, effects)
    return np.nan_to_num(logit, nan=0.0)


def credit_applications(
    rows: int,
    seed: int = 0,
    start: str = "2026-01-01",
    freq_seconds: float = 1.0,
    model: Pipeline | None = None,
    id_prefix: str | None = None,
) -> pd.DataFrame:
    """Credit applications with repayment as the target and gender as the sensitive attribute.

    Columns: ``application_id``, ``applied_at`` (one row every ``freq_seconds``); numerical ``age``,
    ``income`` (yearly), ``debt_ratio``, ``credit_history_months``, ``loan_amount``,
    ``num_open_accounts``; categorical ``employment``, ``housing``, ``purpose``, ``region``; sensitive
    ``gender`` (female/male, independent of every feature) and ``age_group`` (from ``age``).

    Target ``repaid``: 1 = the loan was repaid, drawn from ``credit_repay_logit``.
    Model output: ``proba`` = P(repaid), ``prediction`` = 1 when ``proba >= 0.5``, i.e. approved.
    Both come from ``model`` when given, else from the true probability with small noise.

    >>> apps = credit_applications(2000, seed=3)
    >>> bool(0.7 < apps["repaid"].mean() < 0.9), bool(apps["prediction"].isin([0, 1]).all())
    (True, True)
    """
    rng = np.random.default_rng(seed)
    age = np.clip(rng.normal(42, 13, rows), 18, 80).astype(np.int64)
    employment = rng.choice(len(_EMPLOYMENT), rows, p=[0.7, 0.12, 0.07, 0.05, 0.06])
    employment[(age >= 65) & (rng.random(rows) < 0.8)] = _EMPLOYMENT.index("retired")
    employment[(age <= 23) & (employment == _EMPLOYMENT.index("retired"))] = _EMPLOYMENT.index("student")
    income = rng.lognormal(np.log(48000), 0.5, rows) * np.array([1.0, 1.1, 0.35, 0.35, 0.6])[employment]
    purpose = rng.choice(len(_PURPOSE), rows, p=[0.3, 0.22, 0.12, 0.1, 0.1, 0.16])
    loan = rng.lognormal(np.log(9000), 0.7, rows) * np.array([1.0, 1.2, 3.0, 0.8, 1.0, 1.0])[purpose]
    history = np.maximum(age - 18, 0) * 12 * rng.uniform(0.3, 1.0, rows)
    applications = pd.DataFrame(
        {
            "application_id": _ids(id_prefix if id_prefix is not None else f"credit-{seed}-", rows),
            "applied_at": _clock(start, rows, freq_seconds),
            "age": age,
            "income": np.maximum(np.round(income, -2), 3000.0),
            "debt_ratio": np.round(rng.beta(2, 5, rows) * 1.2, 3),
            "credit_history_months": history.astype(np.int64),
            "loan_amount": np.round(np.clip(loan, 500, 150_000), -1),
            "num_open_accounts": rng.poisson(3.5, rows),
            "employment": _text(_EMPLOYMENT, employment),
            "housing": _text(_HOUSING, rng.choice(len(_HOUSING), rows, p=[0.3, 0.4, 0.3])),
            "purpose": _text(_PURPOSE, purpose),
            "region": _text(_REGIONS, rng.choice(len(_REGIONS), rows, p=[0.3, 0.25, 0.2, 0.15, 0.1])),
            "gender": _text(("female", "male"), rng.integers(0, 2, rows)),
            "age_group": _text(_AGE_GROUPS, np.searchsorted([25, 40, 60], age, side="left")),
        }
    )
    logit = credit_repay_logit(applications)
    applications["repaid"] = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    proba = 1.0 / (1.0 + np.exp(-(logit + rng.normal(0, 0.3, rows))))
    applications["proba"] = np.round(proba, 4)
    applications["prediction"] = (applications["proba"] >= 0.5).astype(np.int64)
    if model is not None:
        from modelmon.demo.models import predict_frame

        applications = predict_frame(model, applications, "classification")
    return applications
