"""Normed Wasserstein from profiles against scipy.stats.wasserstein_distance / np.std on raw values.

Tolerance: the raw value lies within the documented bounds of ``wasserstein_bounds`` (to 1e-9
relative), and so does the score; where the bounds meet (one sample per cell, no crossing: discrete
data, shifts beyond the reference range) the score matches to 1e-9 relative.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from drift_cases import evidently_wasserstein, numerical_pair

from modelmon.engine.drift.wasserstein import MIN_NORM, reference_std, wasserstein, wasserstein_bounds

RNG = np.random.default_rng(7)

DISTRIBUTIONS = {
    "normal": lambda n: RNG.normal(10, 2, n),
    "lognormal": lambda n: RNG.lognormal(0, 1, n),
    "ties": lambda n: RNG.poisson(3, n).astype(float),
    "uniform": lambda n: RNG.uniform(-1, 1, n),
}
CHANGES = {
    "same": lambda values: values,
    "shifted": lambda values: values + 0.3 * np.std(values),
    "scaled": lambda values: values * 1.5,
    "far": lambda values: values + 10 * np.std(values) + 1,
}


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
@pytest.mark.parametrize("change", CHANGES)
@pytest.mark.parametrize("max_bins", [1000, 50])
def test_raw_distance_lies_within_the_bounds(distribution: str, change: str, max_bins: int) -> None:
    reference = DISTRIBUTIONS[distribution](5000)
    current = CHANGES[change](DISTRIBUTIONS[distribution](3000))
    ref, cur, exact = numerical_pair(reference, current, max_bins)
    estimate, lower, upper = wasserstein_bounds(ref, cur)
    raw = scipy.stats.wasserstein_distance(reference, current)
    tolerance = 1e-9 * max(raw, 1.0)
    assert lower - tolerance <= raw <= upper + tolerance
    assert lower - tolerance <= estimate <= upper + tolerance
    score, p_value = wasserstein(ref, cur, exact)
    assert p_value is None
    assert score == pytest.approx(estimate / np.std(reference), rel=1e-9)


@pytest.mark.parametrize("distribution", ["ties", "normal"])
def test_exact_where_no_cell_is_shared(distribution: str) -> None:
    # discrete data on exact edges, or a current sample entirely beyond the reference's range
    reference = DISTRIBUTIONS[distribution](4000)
    current = DISTRIBUTIONS[distribution](2500) + (0 if distribution == "ties" else 100)
    if distribution == "ties":
        current = np.clip(current, reference.min(), reference.max())
    ref, cur, exact = numerical_pair(reference, current)
    _, lower, upper = wasserstein_bounds(ref, cur)
    assert upper == pytest.approx(lower, rel=1e-12)
    assert wasserstein(ref, cur, exact)[0] == pytest.approx(
        evidently_wasserstein(reference, current), rel=1e-9
    )


def test_tails_beyond_the_reference_are_exact() -> None:
    # quantile edges, current spread beyond both ends of the reference: only inner cells approximate
    reference = RNG.normal(0, 1, 20_000)
    current = np.concatenate([RNG.normal(-6, 0.5, 500), RNG.normal(0, 1, 2000), RNG.normal(7, 2, 500)])
    ref, cur, exact = numerical_pair(reference, current, max_bins=1000)
    _estimate, lower, upper = wasserstein_bounds(ref, cur)
    raw = scipy.stats.wasserstein_distance(reference, current)
    assert lower <= raw + 1e-9 and raw <= upper + 1e-9
    # the slack comes only from fine inner cells, a small part of a distance dominated by the tails
    assert (upper - lower) / raw < 0.02
    assert wasserstein(ref, cur, exact)[0] == pytest.approx(
        evidently_wasserstein(reference, current), rel=0.02
    )


def test_reference_std_is_stable_for_large_values() -> None:
    reference = 1e9 + RNG.integers(0, 5, 1000).astype(float)
    ref, _, _ = numerical_pair(reference, reference)
    assert reference_std(ref) == pytest.approx(np.std(reference), rel=1e-9)


def test_constant_reference_uses_evidentlys_floor() -> None:
    ref, cur, exact = numerical_pair(np.full(100, 3.0), np.full(50, 3.5))
    assert wasserstein(ref, cur, exact)[0] == pytest.approx(0.5 / MIN_NORM)
