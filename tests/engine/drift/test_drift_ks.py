"""KS from profiles against scipy.stats.ks_2samp on the raw values.

Tolerances: with exact edges (all reference unique values) the statistic matches to 1e-12 and the
p-value to 1e-9 relative, in both of scipy's regimes (exact below 10,000 values, asymptotic above).
With quantile edges the true statistic lies between the two bounds of ``ks_statistic_bounds``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from drift_cases import DEFAULT_MAX_BINS, numerical_pair

from modelmon.engine.drift.ks import ks, ks_statistic_bounds

RNG = np.random.default_rng(20261126)


def _samples(name: str, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    if name == "normal":
        return RNG.normal(size=n), RNG.normal(0.1, 1.1, size=m)
    if name == "lognormal":
        return RNG.lognormal(size=n), RNG.lognormal(0.05, 1.0, size=m)
    if name == "ties":
        return RNG.poisson(4, size=n).astype(float), RNG.poisson(4.3, size=m).astype(float)
    if name == "shifted":
        return RNG.normal(size=n), RNG.normal(3.0, 1.0, size=m)
    if name == "new_values":  # current values between and beyond the reference's values
        return RNG.integers(0, 30, size=n) * 2.0, RNG.integers(-5, 70, size=m).astype(float)
    raise ValueError(name)


CASES = ["normal", "lognormal", "ties", "shifted", "new_values"]


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize(("n", "m"), [(300, 200), (800, 800), (20, 7)])
def test_exact_edges_match_scipy_in_its_exact_regime(name: str, n: int, m: int) -> None:
    reference, current = _samples(name, n, m)
    ref, cur, exact = numerical_pair(reference, current)
    assert exact
    statistic, p_value = ks(ref, cur, exact)
    expected = scipy.stats.ks_2samp(reference, current)
    assert statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert ks_statistic_bounds(ref, cur)[1] == statistic


@pytest.mark.parametrize("name", ["ties", "new_values"])
def test_exact_edges_match_scipy_in_its_asymptotic_regime(name: str) -> None:
    reference, current = _samples(name, 30_000, 12_000)
    ref, cur, exact = numerical_pair(reference, current)
    assert exact
    statistic, p_value = ks(ref, cur, exact)
    expected = scipy.stats.ks_2samp(reference, current)
    assert statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("name", CASES)
def test_quantile_edges_bound_the_statistic(name: str) -> None:
    reference, current = _samples(name, 20_000, 15_000)
    ref, cur, _exact = numerical_pair(reference, current, max_bins=200)
    lower, upper = ks_statistic_bounds(ref, cur)
    expected = scipy.stats.ks_2samp(reference, current).statistic
    assert lower - 1e-12 <= expected <= upper + 1e-12
    # fine quantile cells keep the bound tight: each holds about 1/200 of the reference
    assert upper - lower < 0.02


def test_statistic_is_exact_at_an_interval_boundary() -> None:
    # the supremum is reached just before an edge: current mass sits between two reference values
    reference = np.array([0.0, 1.0, 2.0, 3.0])
    current = np.array([0.5, 0.5, 0.5, 2.5])
    ref, cur, _ = numerical_pair(reference, current)
    expected = scipy.stats.ks_2samp(reference, current)
    assert ks(ref, cur, True) == pytest.approx((expected.statistic, expected.pvalue), rel=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_large_samples_stay_close_to_scipys_asymptotic_p_value(seed: int) -> None:
    # effective size above 10,000: Stephens-corrected Kolmogorov limit instead of scipy's slow kstwo
    rng = np.random.default_rng(seed)
    reference = rng.poisson(20, 40_000).astype(float)
    current = rng.poisson(20.0 + 0.03 * seed, 30_000).astype(float)
    ref, cur, exact = numerical_pair(reference, current)
    statistic, p_value = ks(ref, cur, exact)
    expected = scipy.stats.ks_2samp(reference, current)
    assert statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=5e-3 if expected.pvalue > 1e-3 else 4e-2)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize(("n", "m"), [(300, 200), (800, 800), (20, 7), (1285, 2570), (50, 9999)])
@pytest.mark.parametrize("max_bins", [DEFAULT_MAX_BINS, 40])  # exact edges, then quantile edges
def test_the_exact_p_value_from_counts_is_ks_2samps_on_the_repeated_cells(name, n, m, max_bins) -> None:
    from modelmon.engine.drift.ks import _exact_p_value

    reference, current = _samples(name, n, m)
    ref, cur, _ = numerical_pair(reference, current, max_bins=max_bins)
    cells = np.arange(len(ref.cell_counts))
    expected = scipy.stats.ks_2samp(np.repeat(cells, ref.cell_counts), np.repeat(cells, cur.cell_counts))
    assert _exact_p_value(ref, cur) == expected.pvalue
    assert _exact_p_value(ref, ref) == 1.0


def _dense_bounds(ref, cur) -> tuple[float, float]:
    """The statistic and its bound read at every cell, as computed before reading only the cells
    that hold values."""
    cells_ref, cells_cur = ref.cell_counts / ref.count, cur.cell_counts / cur.count
    difference = np.cumsum(cells_ref) - np.cumsum(cells_cur)
    statistic = float(np.abs(difference).max())
    even = slice(0, None, 2)
    before = difference[even] - cells_ref[even] + cells_cur[even]
    both = (cells_ref[even] > 0) & (cells_cur[even] > 0)
    reach = np.maximum(before + cells_ref[even], cells_cur[even] - before)[both]
    return statistic, max(statistic, float(reach.max())) if reach.size else statistic


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("max_bins", [DEFAULT_MAX_BINS, 40])  # exact edges, then quantile edges
def test_bounds_from_the_cells_holding_values_equal_those_read_at_every_cell(name, max_bins) -> None:
    reference, current = _samples(name, 700, 90)
    ref, cur, _ = numerical_pair(reference, current, max_bins=max_bins)
    assert np.count_nonzero((ref.cell_counts > 0) | (cur.cell_counts > 0)) < len(ref.cell_counts)
    assert ks_statistic_bounds(ref, cur) == _dense_bounds(ref, cur)
    assert ks_statistic_bounds(cur, ref) == _dense_bounds(cur, ref)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize(("n", "m"), [(300, 200), (20, 7), (1285, 2570), (400, 12_000)])
@pytest.mark.parametrize("max_bins", [DEFAULT_MAX_BINS, 40])  # exact edges, then quantile edges
def test_ks_reads_the_cells_once_and_gives_the_statistic_and_p_value_each_computed_alone(
    name, n, m, max_bins
) -> None:
    from modelmon.engine.drift.ks import _p_value

    reference, current = _samples(name, n, m)
    ref, cur, _ = numerical_pair(reference, current, max_bins=max_bins)
    for first, second in ((ref, cur), (cur, ref)):
        statistic, p_value = ks(first, second, exact=True)
        lower, _ = ks_statistic_bounds(first, second)
        assert statistic == lower
        assert p_value == _p_value(first, second, lower)
