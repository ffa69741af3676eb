from __future__ import annotations

import functools
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmon.engine.profile import Profile, ProfileSpec
from modelmon.errors import SchemaError
from modelmon.schema import Schema

SCHEMA = Schema(numerical=["x"], categorical=["c"], prediction="p", task="regression")


def _reference(rows: int = 500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"x": rng.normal(size=rows), "c": rng.choice(list("abcd"), rows), "p": rng.normal(size=rows)}
    )


@functools.cache
def _fitted() -> ProfileSpec:
    """The spec of ``_reference()``, fitted once for the property tests' many draws."""
    return ProfileSpec.fit(_reference(), SCHEMA)


numbers = st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([0.0, 1.0, -2.5]))
labels = st.one_of(st.none(), st.sampled_from(["a", "b", "z", "new"]))
rows = st.lists(st.tuples(numbers, labels, numbers), max_size=40)


def _frame(data: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(data, columns=["x", "c", "p"]).astype({"x": "float64", "p": "float64", "c": "object"})


def _close(left: Profile, right: Profile) -> None:
    a, b = left.to_dict(), right.to_dict()
    assert a["rows"] == b["rows"]
    for name in a["columns"]:
        ca, cb = a["columns"][name], b["columns"][name]
        for key in ca:
            if key in ("sum", "sum_sq"):
                assert ca[key] == pytest.approx(cb[key], rel=1e-9, abs=1e-6)
            elif key == "cell_sums":
                assert np.allclose(ca[key], cb[key], rtol=1e-9, atol=1e-6)
            else:
                assert ca[key] == cb[key], (name, key)


@settings(max_examples=60, deadline=None)
@given(rows, rows)
def test_sum_of_profiles_is_profile_of_concatenated_rows(first, second):
    spec = _fitted()
    a, b = _frame(first), _frame(second)
    _close(spec.profile(a) + spec.profile(b), spec.profile(pd.concat([a, b], ignore_index=True)))


@settings(max_examples=30, deadline=None)
@given(rows)
def test_json_round_trip(data):
    spec = _fitted()
    profile = spec.profile(_frame(data))
    restored = Profile.from_dict(json.loads(json.dumps(profile.to_dict())), spec)
    assert restored == profile


def test_spec_round_trip_keeps_fingerprint():
    spec = ProfileSpec.fit(_reference(), SCHEMA)
    again = ProfileSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again.fingerprint == spec.fingerprint
    assert again.schema == spec.schema


def test_exact_edges_for_few_values_and_quantiles_for_many():
    reference = _reference(rows=3000)
    reference["x"] = np.round(reference["x"], 1)  # few unique values
    spec = ProfileSpec.fit(reference, SCHEMA, max_bins=100)
    assert spec.exact["x"] and np.array_equal(spec.edges["x"], np.unique(reference["x"]))
    assert not spec.exact["p"] and len(spec.edges["p"]) <= 101
    assert spec.edges["p"][0] == reference["p"].min() and spec.edges["p"][-1] == reference["p"].max()


def test_counts_missing_type_errors_and_new_categories():
    spec = ProfileSpec.fit(_reference(), SCHEMA)
    frame = pd.DataFrame(
        {"x": [1.0, "n/a", None, np.inf, "2.5"], "c": ["a", "zzz", None, "b", "zzz"], "p": 1.0}
    )
    profile = spec.profile(frame)
    x, c = profile.columns["x"], profile.columns["c"]
    assert (x.count, x.missing, x.type_errors) == (2, 1, 2)
    assert x.sum == pytest.approx(3.5)
    assert (c.count, c.missing, c.new_count, c.unseen) == (4, 1, 2, {"zzz": 2})


def test_moments_match_numpy():
    spec = ProfileSpec.fit(_reference(), SCHEMA)
    current = _reference(seed=3)
    column = spec.profile(current).columns["x"]
    assert column.mean == pytest.approx(current["x"].mean(), rel=1e-12)
    assert column.std == pytest.approx(current["x"].std(ddof=0), rel=1e-9)
    assert (column.min, column.max) == (current["x"].min(), current["x"].max())


def test_chunked_profile_equals_whole():
    spec = ProfileSpec.fit(_reference(), SCHEMA)
    current = _reference(rows=1000, seed=5)
    chunks = (current.iloc[i : i + 128] for i in range(0, len(current), 128))
    _close(spec.profile_chunks(chunks), spec.profile(current))


def test_missing_and_unexpected_columns_are_recorded_not_fatal():
    spec = ProfileSpec.fit(_reference(), SCHEMA)
    profile = spec.profile(pd.DataFrame({"x": [1.0], "surprise": [2]}))
    assert profile.absent_columns == ["c", "p"]
    assert profile.unexpected_columns == ["surprise"]


def test_reference_without_a_feature_is_an_error_naming_it():
    with pytest.raises(SchemaError, match=r"\['c'\]"):
        ProfileSpec.fit(_reference().drop(columns=["c"]), SCHEMA)


def test_profiles_of_different_references_do_not_add():
    first = ProfileSpec.fit(_reference(seed=1), SCHEMA)
    second = ProfileSpec.fit(_reference(seed=2), SCHEMA)
    with pytest.raises(SchemaError, match="different reference"):
        first.profile(_reference()) + second.profile(_reference())


def _same_cells_as_a_binary_search(
    reference: list[float], current: list[float], decimals: int | None
) -> None:
    from modelmon.engine.cells import EdgeLookup, cells_of

    edges = np.asarray(reference)
    edges = np.unique(edges if decimals is None else np.round(edges, decimals))
    values = np.concatenate(
        [
            np.asarray(current),
            edges,
            np.nextafter(edges, np.inf),
            np.nextafter(edges, -np.inf),
            [-0.0, 0.0, 5e-324, -5e-324, 1e308, -1e308],
        ]
    )
    values = np.tile(values, -(-1024 // len(values)))  # enough values for the grid, not the fallback
    assert np.array_equal(EdgeLookup(edges, grid=64).cells(values), cells_of(edges, values))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=300),
    st.lists(st.floats(-2e3, 2e3, allow_nan=False), min_size=1, max_size=3000),
)
def test_edge_lookup_gives_exactly_the_cells_of_a_binary_search(reference, current):
    _same_cells_as_a_binary_search(reference, current, decimals=2)


_SPREAD = st.builds(
    lambda sign, power: sign * 10.0**power, st.sampled_from([-1.0, 1.0, 0.0]), st.floats(-300, 300)
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_SPREAD, min_size=1, max_size=300), st.lists(_SPREAD, min_size=1, max_size=3000))
def test_edge_lookup_is_exact_over_values_spread_across_binades(reference, current):
    _same_cells_as_a_binary_search(reference, current, decimals=None)


@pytest.mark.parametrize(
    ("draw", "by_bits"),
    [
        (lambda rng: rng.normal(10, 1, 50_000), False),
        (lambda rng: rng.lognormal(0, 1.5, 50_000), True),
        (lambda rng: rng.standard_cauchy(50_000), True),
    ],
)
def test_edge_lookup_slots_suit_the_column_and_search_almost_nothing(draw, by_bits):
    from modelmon.engine.cells import EdgeLookup, cells_of

    values = draw(np.random.default_rng(3))
    edges = np.unique(np.quantile(values, np.linspace(0, 1, 1001)))
    lookup = EdgeLookup(edges)
    assert lookup._bits is by_bits
    # the slots of skewed or heavy-tailed columns hold at most one edge each
    assert lookup._crowded[lookup._slots(values, lookup._bits)].mean() < 0.01
    assert np.array_equal(lookup.cells(values), cells_of(edges, values))


def test_reference_profile_from_sorted_values_equals_profiling_it():
    reference = _reference(rows=20_000, seed=9)
    spec, profile = ProfileSpec.fit_profile(reference, SCHEMA, max_bins=200)
    _close(profile, spec.profile(reference))


def test_large_frames_profile_the_same_on_threads(monkeypatch):
    from modelmon.engine import profile as profile_module

    reference = _reference(rows=60_000, seed=4)
    spec = ProfileSpec.fit(reference, SCHEMA, parts=())
    assert spec.state == {} or set(spec.state) <= {"_edge_lookups", "_category_index"}
    monkeypatch.setattr(profile_module, "PARALLEL_PROFILE_ROWS", 1)  # 60k rows on the threads
    threaded = spec.profile(reference)
    monkeypatch.setattr(profile_module, "PARALLEL_ROWS", 10**9)  # and on this thread only
    _close(threaded, spec.profile(reference))


def _large_reference(x: np.ndarray) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame({"x": x, "c": rng.choice(list("abcd"), len(x)), "p": rng.normal(size=len(x))})


def test_a_large_continuous_reference_takes_quantile_edges_from_a_sample():
    from modelmon.engine.profile import DEFAULT_MAX_BINS, EDGE_SAMPLE

    x = np.random.default_rng(11).lognormal(0, 1, 3 * EDGE_SAMPLE)
    reference = _large_reference(x)
    spec, profile = ProfileSpec.fit_profile(reference, SCHEMA, parts=())
    edges = spec.edges["x"]
    assert not spec.exact["x"]
    assert (edges[0], edges[-1]) == (x.min(), x.max())  # no reference value is out of its own range
    assert DEFAULT_MAX_BINS * 0.95 < len(edges) <= DEFAULT_MAX_BINS + 1
    column = profile.columns["x"]
    # every cell between two edges holds about 1/1000 of the values (sampling error of 100k draws)
    shares = column.cell_counts[2:-2:2] / len(x)
    assert shares.max() < 1.5 / DEFAULT_MAX_BINS and shares.min() > 0.5 / DEFAULT_MAX_BINS
    assert column.cell_counts[0] == column.cell_counts[-1] == 0
    _close(profile, spec.profile(reference))
    again, _ = ProfileSpec.fit_profile(reference, SCHEMA, parts=())
    assert again.fingerprint == spec.fingerprint  # the sample is drawn with a fixed seed


def test_a_reference_column_of_100k_values_takes_its_edges_from_a_fifth_and_the_tests_hold_their_bounds():
    from scipy import stats

    from modelmon.engine.drift.ks import ks_statistic_bounds
    from modelmon.engine.drift.wasserstein import wasserstein_bounds
    from modelmon.engine.profile import DEFAULT_MAX_BINS, MIN_CELL_SAMPLE, edge_sample_size

    rows = 120_000
    assert edge_sample_size(rows) == rows // 5 >= MIN_CELL_SAMPLE * DEFAULT_MAX_BINS
    assert edge_sample_size(99_999) is None  # sorted whole, as before
    x = np.random.default_rng(16).lognormal(0, 1, rows)
    spec, profile = ProfileSpec.fit_profile(_large_reference(x), SCHEMA, parts=())
    edges = spec.edges["x"]
    assert not spec.exact["x"] and (edges[0], edges[-1]) == (x.min(), x.max())
    assert not np.isin(edges[1:-1], np.quantile(x, np.linspace(0, 1, DEFAULT_MAX_BINS + 1))).all()
    shares = profile.columns["x"].cell_counts[2:-2:2] / rows
    # 24,000 sampled values, 24 a cell: each cell's share within about 4 sampling errors of 1/1000
    assert shares.max() < 2.0 / DEFAULT_MAX_BINS and shares.min() > 0.3 / DEFAULT_MAX_BINS
    # the drift statistics read off these cells keep their stated bounds against scipy on the raw values
    y = np.random.default_rng(17).lognormal(0.02, 1, 80_000)
    current = spec.profile(_large_reference(y)).columns["x"]
    low, high = ks_statistic_bounds(profile.columns["x"], current)
    assert low - 1e-12 <= stats.ks_2samp(x, y).statistic <= high + 1e-12
    assert high - low < 2.0 / DEFAULT_MAX_BINS
    estimate, w_low, w_high = wasserstein_bounds(profile.columns["x"], current)
    exact = stats.wasserstein_distance(x, y)
    assert w_low - 1e-9 <= exact <= w_high + 1e-9
    assert estimate == pytest.approx(exact, rel=0.02)


def test_a_large_discrete_reference_keeps_exact_edges_even_for_a_value_the_sample_misses():
    from modelmon.engine.profile import EDGE_SAMPLE

    x = np.random.default_rng(12).integers(0, 300, 3 * EDGE_SAMPLE).astype(float)
    x[123_457] = 0.5  # one value in 300,000: the sample of 100,000 draws misses it most likely
    spec, profile = ProfileSpec.fit_profile(_large_reference(x), SCHEMA, parts=())
    assert spec.exact["x"]
    assert np.array_equal(spec.edges["x"], np.unique(x))
    assert profile.columns["x"].cell_counts[3] == 1  # the edge 0.5's own cell
    assert profile.columns["x"].cell_counts[::2].sum() == 0  # nothing between exact edges


def test_a_pickled_spec_leaves_its_lookup_caches_behind_and_profiles_the_same():
    import pickle

    from modelmon.engine.profile import EDGE_SAMPLE

    reference = _large_reference(np.random.default_rng(13).normal(size=3 * EDGE_SAMPLE))
    spec = ProfileSpec.fit(reference, SCHEMA, parts=())
    assert "_edge_lookups" in spec.state  # the fit kept the lookup it counted the reference with
    data = pickle.dumps(spec)
    assert len(data) < 100_000  # edges and categories only, not the lookup tables
    again = pickle.loads(data)
    assert "_edge_lookups" not in again.state
    current = _large_reference(np.random.default_rng(14).normal(0.1, 1, 5000))
    _close(again.profile(current), spec.profile(current))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1.0, 2.5, -3.0], ([1.0, 2.5, -3.0], 0, 0)),
        ([1.0, np.nan, 2.0], ([1.0, 2.0], 1, 0)),
        ([1.0, np.inf, -np.inf, np.nan], ([1.0], 1, 2)),
        ([1e308, 1e308, -1e308], ([1e308, 1e308, -1e308], 0, 0)),  # finite values whose sum overflows
        ([], ([], 0, 0)),
    ],
)
def test_numeric_values_tell_missing_values_and_infinities_from_finite_ones(values, expected):
    from modelmon.engine.columns import numeric_values

    finite, missing, type_errors = numeric_values(pd.Series(values, dtype=float))
    assert (finite.tolist(), missing, type_errors) == expected


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-5, 5), min_size=1, max_size=60),
    st.lists(st.integers(-6, 6), min_size=1, max_size=8, unique=True),
)
def test_a_column_summarised_from_sorted_values_equals_one_counted_value_by_value(values, edges):
    from modelmon.engine.columns import NumericalColumn

    data, cuts = np.array(values, dtype=float) / 2, np.sort(np.array(edges, dtype=float)) / 2
    ordered = NumericalColumn.from_sorted(cuts, np.sort(data))
    counted = NumericalColumn.from_values(cuts, data)
    assert ordered.cell_counts.tolist() == counted.cell_counts.tolist()
    assert ordered.cell_sums.tolist() == pytest.approx(counted.cell_sums.tolist(), abs=1e-12)
    assert (ordered.min, ordered.max, ordered.sum) == (counted.min, counted.max, pytest.approx(counted.sum))
