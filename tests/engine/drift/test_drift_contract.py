"""One contract over every registered drift test: edge inputs, clear drift, no drift, round trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from drift_cases import categorical_pair, numerical_pair, profiles

from modelmon.config import DriftSettings
from modelmon.engine.columns import CategoricalColumn, NumericalColumn
from modelmon.engine.drift import DRIFT_TESTS, data_drift
from modelmon.errors import InputError
from modelmon.schema import Schema

RNG = np.random.default_rng(3)
CASES = [(name, kind) for name, test in DRIFT_TESTS.items() for kind in test.applies_to]


def _pair(kind: str, reference, current):
    if kind == "numerical":
        ref, cur, exact = numerical_pair(np.asarray(reference, float), np.asarray(current, float))
        return ref, cur, exact
    ref, cur = categorical_pair(np.asarray(reference).astype(str), np.asarray(current).astype(str))
    return ref, cur, True


def _check(name: str, score: float, p_value: float | None) -> None:
    test = DRIFT_TESTS[name]
    assert isinstance(score, float) and not np.isnan(score)
    if test.kind == "p_value":
        assert p_value is not None and 0.0 <= p_value <= 1.0
    else:
        assert p_value is None and score >= 0.0


def test_every_test_is_registered_under_its_name() -> None:
    expected = {"ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi", "kl_div", "hellinger"}
    assert set(DRIFT_TESTS) == expected
    for name, test in DRIFT_TESTS.items():
        assert test.name == name and test.kind in ("p_value", "distance")
        assert set(test.applies_to) <= {"numerical", "categorical"}


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_empty_current_is_an_input_error(name: str, kind: str) -> None:
    ref, _, exact = _pair(kind, [1, 2, 3], [1])
    empty = NumericalColumn.empty(ref.edges) if kind == "numerical" else CategoricalColumn.empty(ref.values)
    with pytest.raises(InputError, match="current column has no valid"):
        DRIFT_TESTS[name].function(ref, empty, exact)


@pytest.mark.parametrize(("name", "kind"), CASES)
@pytest.mark.parametrize("current", ["all_nan", "absent", "empty"])
def test_untestable_current_is_reported_not_raised(name: str, kind: str, current: str) -> None:
    values = RNG.integers(0, 50, 300)
    reference = pd.DataFrame({"x": values if kind == "numerical" else values.astype(str)})
    frames = {
        "all_nan": pd.DataFrame({"x": [np.nan] * 10}),
        "absent": pd.DataFrame({"y": [1.0]}),
        "empty": reference.iloc[:0],
    }
    schema = Schema(**{kind: ["x"]})
    ref_profile, cur_profile = profiles(reference, frames[current], schema)
    result = data_drift(ref_profile, cur_profile, DriftSettings(method=name))
    column = result.columns["x"]
    assert (column.score, column.p_value, column.detected) == (None, None, False)
    assert "no current values" in column.note
    assert (result.drifted_share, result.dataset_drift) == (None, None)  # nothing tested: no verdict
    json.dumps(result.to_dict(), allow_nan=False)


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_constant_columns(name: str, kind: str) -> None:
    ref, cur, exact = _pair(kind, [3] * 200, [3] * 150)
    score, p_value = DRIFT_TESTS[name].function(ref, cur, exact)
    _check(name, score, p_value)
    assert not DRIFT_TESTS[name].detected(score, p_value, DRIFT_TESTS[name].threshold)
    ref, cur, exact = _pair(kind, [3] * 200, [4] * 150)
    score, p_value = DRIFT_TESTS[name].function(ref, cur, exact)
    _check(name, score, p_value)
    assert DRIFT_TESTS[name].detected(score, p_value, DRIFT_TESTS[name].threshold)


@pytest.mark.parametrize(("name", "kind"), CASES)
@pytest.mark.parametrize(("reference", "current"), [([1.5], [1.5]), ([1.5], [2.5]), ([1.5, 2.5], [7.0])])
def test_one_row(name: str, kind: str, reference: list, current: list) -> None:
    ref, cur, exact = _pair(kind, reference, current)
    score, p_value = DRIFT_TESTS[name].function(ref, cur, exact)
    _check(name, score, p_value)


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_huge_shift_is_detected(name: str, kind: str) -> None:
    if kind == "numerical":
        reference, current = RNG.normal(0, 1, 800), RNG.normal(100, 1, 600)
        if name == "z":  # two values, all of the current on the other one
            reference, current = RNG.integers(0, 2, 800), np.ones(600)
    else:
        reference = RNG.choice(list("abc"), 800)
        current = RNG.choice(list("de"), 600) if name != "z" else np.array(["b"] * 600)
        if name == "z":
            reference = RNG.choice(list("ab"), 800, p=[0.9, 0.1])
    ref, cur, exact = _pair(kind, reference, current)
    score, p_value = DRIFT_TESTS[name].function(ref, cur, exact)
    assert DRIFT_TESTS[name].detected(score, p_value, DRIFT_TESTS[name].threshold)


@pytest.mark.parametrize(("name", "kind"), CASES)
@pytest.mark.parametrize("size", [5, 2000])
def test_identical_data_shows_no_drift(name: str, kind: str, size: int) -> None:
    values = RNG.normal(0, 1, size) if kind == "numerical" else RNG.choice(list("abcd"), size)
    if name == "z":
        values = RNG.integers(0, 2, size)
    ref, cur, exact = _pair(kind, values, values)
    score, p_value = DRIFT_TESTS[name].function(ref, cur, exact)
    _check(name, score, p_value)
    assert score == pytest.approx(0.0, abs=1e-12)
    assert p_value in (None, pytest.approx(1.0))
    assert not DRIFT_TESTS[name].detected(score, p_value, DRIFT_TESTS[name].threshold)


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_serialized_profiles_give_the_same_result(name: str, kind: str) -> None:
    reference = RNG.lognormal(0, 1, 3000) if kind == "numerical" else RNG.choice(list("abcdef"), 3000)
    current = RNG.lognormal(0.1, 1, 2000) if kind == "numerical" else RNG.choice(list("abcdefgh"), 2000)
    ref, cur, exact = _pair(kind, reference, current)
    if kind == "numerical":
        ref, cur, exact = numerical_pair(reference, current, max_bins=300)
    round_trip = [
        type(column).from_dict(json.loads(json.dumps(column.to_dict())), getattr(column, "edges", None))
        if kind == "numerical"
        else CategoricalColumn.from_dict(json.loads(json.dumps(column.to_dict())), column.values)
        for column in (ref, cur)
    ]
    assert DRIFT_TESTS[name].function(*round_trip, exact) == DRIFT_TESTS[name].function(ref, cur, exact)


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_merged_profiles_give_the_result_of_the_concatenated_rows(name: str, kind: str) -> None:
    values = RNG.normal(0, 1, 2000) if kind == "numerical" else RNG.choice(list("abcd"), 2000)
    current = RNG.normal(0.2, 1, 1000) if kind == "numerical" else RNG.choice(list("abcde"), 1000)
    ref, whole, exact = _pair(kind, values, current)
    _, first, _ = _pair(kind, values, current[:400])
    _, second, _ = _pair(kind, values, current[400:])
    merged_score, merged_p = DRIFT_TESTS[name].function(ref, first + second, exact)
    score, p_value = DRIFT_TESTS[name].function(ref, whole, exact)
    assert merged_score == pytest.approx(score, rel=1e-12)
    assert merged_p == (None if p_value is None else pytest.approx(p_value, rel=1e-12))
