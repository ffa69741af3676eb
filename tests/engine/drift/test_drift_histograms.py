"""Chi-square, Z, Jensen-Shannon, PSI, KL and Hellinger from profiles against the raw-data formulas.

Tolerances: 1e-12 relative wherever the profile holds what the formula needs (categories; numerical
values on exact edges; any numerical column binned by the profile's own cuts); the drift decision
where the profile's bins differ from Evidently's (continuous data beyond the cells).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from drift_cases import (
    binned_by_cuts,
    categorical_pair,
    evidently_chisquare,
    evidently_hellinger,
    evidently_js,
    evidently_kl,
    evidently_psi,
    evidently_z,
    numerical_pair,
)
from scipy.spatial import distance

from modelmon.engine.drift import DRIFT_TESTS
from modelmon.engine.drift.binning import fill_empty, sturges_cuts

RNG = np.random.default_rng(11)
EVIDENTLY = {
    "psi": evidently_psi,
    "kl_div": evidently_kl,
    "jensenshannon": evidently_js,
    "hellinger": evidently_hellinger,
}


def _categories(size: int, weights: list[float], names: str = "abcdefgh") -> np.ndarray:
    weights_array = np.asarray(weights) / np.sum(weights)
    return RNG.choice(np.array(list(names[: len(weights)])), size=size, p=weights_array)


CATEGORICAL_CASES = {
    "same": (_categories(3000, [5, 3, 2, 1]), _categories(2000, [5, 3, 2, 1])),
    "shifted": (_categories(3000, [5, 3, 2, 1]), _categories(2000, [1, 3, 2, 5])),
    "missing_category": (_categories(3000, [5, 3, 2, 1]), _categories(2000, [5, 3, 0.0001, 0])),
    "new_categories": (_categories(3000, [5, 3, 2, 0, 0]), _categories(2000, [5, 3, 2, 1, 0.3])),
}


@pytest.mark.parametrize("case", CATEGORICAL_CASES)
@pytest.mark.parametrize("method", EVIDENTLY)
def test_categorical_distances_equal_evidentlys(case: str, method: str) -> None:
    reference, current = CATEGORICAL_CASES[case]
    ref, cur = categorical_pair(reference, current)
    score, p_value = DRIFT_TESTS[method].function(ref, cur, True)
    assert p_value is None
    expected = EVIDENTLY[method](reference, current, numerical=False)
    assert score == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("case", CATEGORICAL_CASES)
def test_categorical_chisquare_equals_scipy(case: str) -> None:
    reference, current = CATEGORICAL_CASES[case]
    ref, cur = categorical_pair(reference, current)
    _, p_value = DRIFT_TESTS["chisquare"].function(ref, cur, True)
    assert p_value == pytest.approx(evidently_chisquare(reference, current), rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(
    ("reference", "current"),
    [
        (_categories(500, [7, 3]), _categories(400, [6, 4])),
        (_categories(500, [7, 3]), _categories(400, [2, 8])),
        (np.array(["b"] * 30 + ["a"] * 70), np.array(["a"] * 40)),
        (_categories(500, [7, 3]), _categories(400, [7, 2, 1])),  # a third value appears
    ],
)
def test_z_test_equals_the_two_proportion_formula(reference: np.ndarray, current: np.ndarray) -> None:
    ref, cur = categorical_pair(reference, current)
    _, p_value = DRIFT_TESTS["z"].function(ref, cur, True)
    assert p_value == pytest.approx(evidently_z(reference, current), rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("shares", [[7, 3], [6, 4], [2, 8], [5, 5], [999, 1]])
def test_z_test_p_value_is_scipys_normal_survival_exactly(shares: list[int]) -> None:
    ref, cur = categorical_pair(_categories(500, [7, 3]), _categories(400, shares))
    z, p_value = DRIFT_TESTS["z"].function(ref, cur, True)
    assert p_value == 2 * scipy.stats.norm.sf(abs(z))


def test_z_test_sorts_numeric_labels_as_numbers() -> None:
    reference = np.array(["9"] * 60 + ["10"] * 40 + ["11"] * 5)
    current = np.array(["9"] * 30 + ["10"] * 70 + ["11"] * 5)
    ref, cur = categorical_pair(reference, current)
    _, p_value = DRIFT_TESTS["z"].function(ref, cur, True)
    assert p_value == pytest.approx(evidently_z(reference.astype(int), current.astype(int)), rel=1e-9)


def test_numerical_few_values_as_categories() -> None:
    # reference values 0..9; current has them plus one new value in distinct gaps and one beyond
    reference = RNG.integers(0, 10, 2000).astype(float)
    current = np.concatenate([RNG.integers(0, 10, 1500).astype(float), [2.5] * 40, [7.5] * 10, [12.0] * 5])
    ref, cur, exact = numerical_pair(reference, current)
    for method, formula in EVIDENTLY.items():
        score, _ = DRIFT_TESTS[method].function(ref, cur, exact)
        assert score == pytest.approx(formula(reference, current), rel=1e-12), method
    _, p_value = DRIFT_TESTS["chisquare"].function(ref, cur, exact)
    assert p_value == evidently_chisquare(reference, current) == 0.0


@pytest.mark.parametrize("shift", [0, 3])
def test_discrete_values_on_exact_edges_equal_evidentlys_sturges_bins(shift: int) -> None:
    # more than 20 unique values: Sturges bins; current values are reference values, so no bin
    # boundary moves across a value and the profile's counts are Evidently's
    reference = RNG.binomial(120, 0.3, 5000).astype(float)
    current = np.clip(RNG.binomial(120, 0.3, 4000) + shift, reference.min(), reference.max()).astype(float)
    current = current[np.isin(current, reference)]
    ref, cur, exact = numerical_pair(reference, current)
    for method, formula in EVIDENTLY.items():
        score, _ = DRIFT_TESTS[method].function(ref, cur, exact)
        assert score == pytest.approx(formula(reference, current), rel=1e-12), method


def _same_binning(method: str, ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    ref, cur = ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()
    if method == "jensenshannon":
        return float(distance.jensenshannon(ref, cur))
    if method == "hellinger":
        return float(np.sqrt(1 - np.clip(np.sum(np.sqrt(ref * cur)), 0, 1)))
    ref, cur = fill_empty(ref), fill_empty(cur)
    if method == "kl_div":
        return float(scipy.stats.entropy(ref, cur))
    return float(np.sum((ref - cur) * np.log(ref / cur)))


CONTINUOUS = {
    "normal": (RNG.normal(0, 1, 20_000), RNG.normal(0, 1, 8000)),
    "normal_shifted": (RNG.normal(0, 1, 20_000), RNG.normal(0.5, 1, 8000)),
    "lognormal": (RNG.lognormal(0, 1, 20_000), RNG.lognormal(0.2, 1, 8000)),
    "beyond_range": (RNG.uniform(0, 1, 20_000), RNG.uniform(0.5, 2.5, 8000)),
}


@pytest.mark.parametrize("case", CONTINUOUS)
@pytest.mark.parametrize("method", EVIDENTLY)
def test_continuous_equals_the_formula_on_the_profiles_bins(case: str, method: str) -> None:
    reference, current = CONTINUOUS[case]
    ref, cur, exact = numerical_pair(reference, current)
    assert not exact
    size = len(reference) + len(current)
    if method == "hellinger":
        size = len(np.union1d(reference, current))
    cuts = sturges_cuts(ref, cur, size)
    expected = _same_binning(
        method, binned_by_cuts(ref.edges, cuts, reference), binned_by_cuts(ref.edges, cuts, current)
    )
    score, _ = DRIFT_TESTS[method].function(ref, cur, exact)
    assert score == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("case", CONTINUOUS)
@pytest.mark.parametrize("method", EVIDENTLY)
def test_continuous_drift_decision_agrees_with_evidently(case: str, method: str) -> None:
    reference, current = CONTINUOUS[case]
    ref, cur, exact = numerical_pair(reference, current)
    score, _ = DRIFT_TESTS[method].function(ref, cur, exact)
    raw = EVIDENTLY[method](reference, current)
    threshold = DRIFT_TESTS[method].threshold
    assert (score >= threshold) == (raw >= threshold)
    if case != "beyond_range":  # there Evidently splits the out-of-range values over several bins
        assert score == pytest.approx(raw, rel=0.1, abs=0.005)
