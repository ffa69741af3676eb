"""Categorical drift and quality with many categories, against scipy on the raw rows.

Every reference category is counted by name up to ``max_categories`` (100,000 by default), so the
scores equal scipy's on raw counts (tolerance 1e-9) with 10 to 100,000 categories. Beyond the
bound the reference's tail is counted per hash bucket: the score is then a lower bound, the
upper bound is given in the result, and scipy's value lies between them.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from scipy.spatial.distance import jensenshannon

from modelmon.config import DriftSettings
from modelmon.engine.columns import CategoricalColumn
from modelmon.engine.drift import data_drift
from modelmon.engine.profile import Profile, ProfileSpec
from modelmon.engine.quality import data_quality
from modelmon.schema import Schema

SCHEMA = Schema(categorical=["zone"])
METHODS = ("jensenshannon", "chisquare", "psi", "hellinger")


def _labels(categories: int) -> np.ndarray:
    return np.array([f"z{i}" for i in range(categories)], dtype=object)


def _reference(categories: int, rows_each: int, seed: int) -> pd.Series:
    """Every one of ``categories`` labels ``rows_each`` times, shuffled."""
    rows = np.repeat(_labels(categories), rows_each)
    return pd.Series(np.random.default_rng(seed).permutation(rows))


def _rows(categories: int, rows_each: int, seed: int, tail_weight: float = 1.0) -> pd.Series:
    """Draws of ``categories`` labels; with ``tail_weight`` > 1 their second half is that much likelier."""
    rng = np.random.default_rng(seed)
    weights = np.ones(categories)
    weights[categories // 2 :] *= tail_weight
    return pd.Series(rng.choice(_labels(categories), categories * rows_each, p=weights / weights.sum()))


def _raw_counts(reference: pd.Series, current: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    union = pd.Index(pd.unique(pd.concat([reference, current], ignore_index=True)))
    ref = np.bincount(union.get_indexer(reference), minlength=len(union)).astype(float)
    cur = np.bincount(union.get_indexer(current), minlength=len(union)).astype(float)
    return ref, cur


def _psi_by_hand(ref: np.ndarray, cur: np.ndarray) -> float:
    """Evidently's PSI on raw counts: shares, empty bins filled, sum (r - c) ln(r / c)."""

    def fill(shares: np.ndarray) -> np.ndarray:
        smallest = shares[shares > 0].min()
        return np.where(shares == 0, smallest / 10**6 if smallest <= 1e-4 else 1e-4, shares)

    r, c = fill(ref / ref.sum()), fill(cur / cur.sum())
    return float(np.sum((r - c) * np.log(r / c)))


def _expected(method: str, ref: np.ndarray, cur: np.ndarray) -> float:
    if method == "jensenshannon":
        return float(jensenshannon(ref / ref.sum(), cur / cur.sum()))
    if method == "chisquare":
        return float(scipy.stats.chisquare(cur, ref * cur.sum() / ref.sum()).statistic)
    if method == "psi":
        return _psi_by_hand(ref, cur)
    bhattacharyya = np.sum(np.sqrt(ref / ref.sum() * cur / cur.sum()))
    return float(np.sqrt(max(1 - bhattacharyya, 0.0)))


def _drift(spec: ProfileSpec, reference: pd.Series, current: pd.Series, *methods: str) -> dict:
    """The drift result of each method (one if one is given), profiling each side once."""
    reference_profile = spec.profile(pd.DataFrame({"zone": reference}))
    current_profile = spec.profile(pd.DataFrame({"zone": current}))
    results = {}
    for method in methods:
        settings = DriftSettings(columns={"zone": {"method": method}})
        drift = data_drift(reference_profile, current_profile, settings)
        results[method] = drift.to_dict()["columns"]["zone"]
    return results if len(methods) > 1 else results[methods[0]]


@pytest.mark.parametrize(("categories", "rows_each"), [(10, 200), (1_000, 20), (10_000, 4), (100_000, 2)])
def test_scores_equal_scipy_on_raw_rows(categories: int, rows_each: int) -> None:
    reference = _reference(categories, rows_each, seed=1)
    current = _rows(categories, rows_each, seed=2, tail_weight=3.0)
    spec = ProfileSpec.fit(pd.DataFrame({"zone": reference}), SCHEMA, parts=())
    ref, cur = _raw_counts(reference, current)
    known = ref > 0  # chi-square against reference shares: only the values the reference has
    results = _drift(spec, reference, current, *METHODS)
    for method, result in results.items():
        expected = _expected(method, ref[known], cur[known]) if method == "chisquare" else None
        if method == "chisquare" and (cur[~known] > 0).any():
            assert result["score"] is None  # a value the reference never had: infinite statistic
        else:
            expected = expected if expected is not None else _expected(method, ref, cur)
            assert result["score"] == pytest.approx(expected, rel=1e-9, abs=1e-12), method
        assert result["approximation"] is None, method


def test_tail_drift_is_seen_where_the_old_bound_hid_it() -> None:
    """The issue's case: 2,000 categories at 15 rows each, the current shifted to the second thousand."""
    rng = np.random.default_rng(0)
    labels = np.array([f"c{i}" for i in range(2000)], dtype=object)
    reference = pd.Series(np.repeat(labels, 15))
    weights = np.where(np.arange(2000) >= 1000, 9.0, 1.0)
    current = pd.Series(rng.choice(labels, 30_000, p=weights / weights.sum()))
    spec = ProfileSpec.fit(pd.DataFrame({"zone": reference}), SCHEMA, parts=())
    result = _drift(spec, reference, current, "jensenshannon")
    ref, cur = _raw_counts(reference, current)
    assert result["score"] == pytest.approx(jensenshannon(ref / ref.sum(), cur / cur.sum()), rel=1e-9)
    assert result["score"] > 0.3 and result["detected"] is True
    # a bound of 1,000 named categories (the old default) now gives a stated range, not a silent 0.05
    bounded = ProfileSpec.fit(pd.DataFrame({"zone": reference}), SCHEMA, parts=(), max_categories=1000)
    low, high = _drift(bounded, reference, current, "jensenshannon")["approximation"]["reference_tail"][
        "score_range"
    ]
    assert low <= result["score"] <= high


@pytest.mark.parametrize("method", ["jensenshannon", "hellinger"])
def test_beyond_the_bound_scipy_lies_within_the_stated_range(method: str) -> None:
    reference = _reference(10_000, 4, seed=3)
    current = _rows(10_000, 4, seed=4, tail_weight=3.0)
    spec = ProfileSpec.fit(pd.DataFrame({"zone": reference}), SCHEMA, parts=(), max_categories=2_000)
    result = _drift(spec, reference, current, method)
    tail = result["approximation"]["reference_tail"]
    low, high = tail["score_range"]
    truth = _expected(method, *_raw_counts(reference, current))
    assert low == result["score"] and low <= truth + 1e-12 and truth <= high + 1e-12
    assert tail["exact_categories"] == 2_000 and tail["tail_categories"] == 8_000
    assert tail["reference_tail_share"] == pytest.approx(
        (reference.isin(spec.categories["zone"]) == 0).mean()
    )


def test_quality_counts_stay_exact_beyond_the_bound() -> None:
    reference = _reference(5_000, 4, seed=5)
    current = pd.concat(
        [_rows(5_000, 2, seed=6), pd.Series(["brand-new"] * 50 + [None] * 10)], ignore_index=True
    )
    spec = ProfileSpec.fit(pd.DataFrame({"zone": reference}), SCHEMA, parts=(), max_categories=1_000)
    quality = data_quality(
        spec.profile(pd.DataFrame({"zone": reference})), spec.profile(pd.DataFrame({"zone": current}))
    )
    column = quality["columns"]["zone"]
    valid = current.dropna()
    assert column["new_categories_count"] == int((~valid.isin(reference)).sum()) == 50
    assert column["new_categories"] == {"brand-new": 50}
    assert column["missing"] == 10 and column["reference_categories"] == 5_000
    assert column["approximation"]["reference_tail"]["tail_share"] == pytest.approx(
        (~valid.isin(spec.categories["zone"]) & valid.isin(reference)).mean()
    )


def test_new_names_beyond_the_bound_are_a_misra_gries_summary() -> None:
    reference = pd.Series(["a", "b"] * 50)
    rng = np.random.default_rng(7)
    new = pd.Series(rng.zipf(1.5, 20_000).astype(str))
    spec = ProfileSpec.fit(pd.DataFrame({"zone": reference}), SCHEMA, parts=())
    halves = [spec.profile(pd.DataFrame({"zone": part})) for part in (new[:10_000], new[10_000:])]
    column = (halves[0] + halves[1]).columns["zone"]
    truth = new.value_counts()
    assert column.new_count == len(new)
    error = column.unseen_error
    assert 0 < error <= (len(new) - sum(column.unseen.values())) / 1001
    for name, count in column.unseen.items():
        assert truth[name] - error <= count <= truth[name]
    assert all(truth[name] <= error for name in truth.index if name not in column.unseen)
    psi = _drift(spec, reference, new, "psi")
    assert psi["approximation"]["new_categories"]["max_undercount"] > 0
    assert _drift(spec, reference, new, "jensenshannon")["approximation"] is None


@pytest.mark.parametrize("max_categories", [100_000, 500])
def test_profiles_add_and_round_trip_with_many_categories(max_categories: int) -> None:
    reference = _reference(20_000, 2, seed=8)
    current = pd.concat([_rows(20_000, 1, seed=9), pd.Series(["new"] * 5)], ignore_index=True)
    spec = ProfileSpec.fit(pd.DataFrame({"zone": reference}), SCHEMA, parts=(), max_categories=max_categories)
    whole = spec.profile(pd.DataFrame({"zone": current}))
    parts = [spec.profile(pd.DataFrame({"zone": chunk})) for chunk in np.array_split(current, 7)]
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    assert total == whole and (spec.empty() + whole) == whole
    again_spec = ProfileSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again_spec.fingerprint == spec.fingerprint
    again = Profile.from_dict(json.loads(json.dumps(whole.to_dict())), again_spec)
    assert again == whole and again.columns["zone"].new_count == 5


def test_the_html_report_names_the_approximation() -> None:
    from modelmon.engine.build import build_report
    from modelmon.render.html import render_html
    from modelmon.render.json import to_jsonable

    reference = pd.DataFrame({"zone": _reference(3_000, 3, seed=10)})
    current = pd.DataFrame({"zone": _rows(3_000, 3, seed=11, tail_weight=4.0)})
    report = build_report(reference, current, SCHEMA, sections=("drift", "quality"))
    assert report.to_dict()["drift"]["columns"]["zone"]["approximation"] is None
    html = render_html(to_jsonable(report.to_dict()))
    assert "approximate:" not in html
    spec_side = ProfileSpec.fit(reference, SCHEMA, parts=(), max_categories=1_000)
    drift = data_drift(spec_side.profile(reference), spec_side.profile(current)).to_dict()
    quality = data_quality(spec_side.profile(reference), spec_side.profile(current))
    html = render_html({"drift": drift, "quality": quality})
    assert html.count("2,000 reference categories beyond the 1,000 counted by name") == 2
    assert "score between" in html and "<h3>Approximations</h3>" in html


@pytest.mark.parametrize("new_names", [0, 3])
def test_counts_without_new_names_are_the_slots_counts_as_with_them(new_names: int) -> None:
    from modelmon.engine.drift.binning import _category_counts

    rng = np.random.default_rng(new_names)
    values = tuple(f"z{i}" for i in range(12))
    columns = []
    for _ in range(2):
        labels = rng.choice([*values, *(f"new{i}" for i in range(new_names)), None], 300)
        columns.append(CategoricalColumn.from_series(values, pd.Series(labels), tail=None))
    for first, second in (columns, columns[::-1]):
        counted = _category_counts(first, second)
        names = sorted(set(first.unseen) | set(second.unseen))
        assert counted[2] == names
        for fast, column in zip(counted[:2], (first, second), strict=True):
            # every part gathered, as the general path does
            named = np.array([column.unseen.get(name, 0) for name in names], dtype=np.int64)
            plain = np.concatenate((column.counts[:-1], named, [column.counts[-1] - named.sum()]))
            assert fast.dtype == plain.dtype and fast.tolist() == plain.tolist()
        assert len(counted[0]) == len(values) + new_names + 1


@pytest.mark.parametrize(("numeric", "new_names", "tail"), [(False, 0, None), (True, 2, None), (False, 3, 4)])
def test_values_sorted_by_label_with_the_order_kept_equal_labelling_every_call(numeric, new_names, tail):
    from modelmon.engine.category_counts import CategoryTail
    from modelmon.engine.drift.binning import _category_counts, _label_order, sorted_value_counts

    tail = None if tail is None else CategoryTail.of(["rare1", "rare2", "rare3"], tail)
    rng = np.random.default_rng(new_names)
    values = tuple(str(9 - i) if numeric else f"z{(7 * i) % 12}" for i in range(10))
    extra = [str(20 + i) if numeric else f"new{i}" for i in range(new_names)]
    columns = []
    for _ in range(2):
        labels = rng.choice([*values, *extra, "rare1", "rare2", None], 300)
        columns.append(CategoricalColumn.from_series(values, pd.Series(labels), tail=tail))
    for _ in range(2):  # the second time from the kept order
        for first, second in (columns, columns[::-1]):
            ref, cur, names = _category_counts(first, second)
            buckets = [f"(reference tail, bucket {b})" for b in range(first.tail_buckets)]
            order = _label_order(np.array([*first.values, *buckets, *names, ""], dtype=object))
            present = (ref[order] > 0) | (cur[order] > 0)
            expected = ref[order][present].tolist(), cur[order][present].tolist()
            got = sorted_value_counts(first, second)
            assert (got[0].tolist(), got[1].tolist()) == expected
