"""Helpers for the drift tests: profiles built straight from columns, and Evidently's raw-data formulas.

The raw-data functions below restate Evidently 0.7's stattest code (``get_binned_data`` and the
PSI, KL, Jensen-Shannon and Hellinger formulas) on numpy arrays, so the tests can compare the
profile-based results with what Evidently computes without importing it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.stats
from scipy.spatial import distance

from modelmon.engine.cells import cells_of
from modelmon.engine.columns import CategoricalColumn, NumericalColumn, category_labels
from modelmon.engine.profile import DEFAULT_MAX_BINS, Profile, ProfileSpec, _edges
from modelmon.schema import Schema


def numerical_pair(
    reference: np.ndarray, current: np.ndarray, max_bins: int = DEFAULT_MAX_BINS
) -> tuple[NumericalColumn, NumericalColumn, bool]:
    """Profiled columns of two samples against the reference's edges, and whether the edges are exact."""
    edges, exact = _edges(np.asarray(reference, dtype=float), max_bins)
    return (
        NumericalColumn.from_values(edges, np.asarray(reference, dtype=float)),
        NumericalColumn.from_values(edges, np.asarray(current, dtype=float)),
        exact,
    )


def categorical_pair(reference: list | np.ndarray, current: list | np.ndarray):
    """Profiled categorical columns (categories from the reference, most frequent first)."""
    codes, labels, _ = category_labels(pd.Series(reference))
    frequency = np.bincount(codes[codes >= 0], minlength=len(labels))
    values = tuple(labels[i] for i in sorted(range(len(labels)), key=lambda i: (-frequency[i], labels[i])))
    return (
        CategoricalColumn.from_series(values, pd.Series(reference)),
        CategoricalColumn.from_series(values, pd.Series(current)),
    )


def profiles(reference: pd.DataFrame, current: pd.DataFrame, schema: Schema) -> tuple[Profile, Profile]:
    """Column-only profiles of two frames (what ProfileSpec.fit/profile build, without model parts)."""
    spec = ProfileSpec(schema)
    for name in schema.monitored_columns:
        if schema.kind(name) == "numerical":
            values = pd.to_numeric(reference[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            spec.edges[name], spec.exact[name] = _edges(values[np.isfinite(values)], DEFAULT_MAX_BINS)
        else:
            codes, labels, _ = category_labels(reference[name])
            frequency = np.bincount(codes[codes >= 0], minlength=len(labels))
            order = sorted(range(len(labels)), key=lambda i: (-frequency[i], labels[i]))
            spec.categories[name] = tuple(labels[i] for i in order)
            spec.truncated[name] = False

    def build(frame: pd.DataFrame) -> Profile:
        columns = {}
        absent = []
        for name in spec.columns:
            if name in spec.edges:
                if name in frame:
                    columns[name] = NumericalColumn.from_series(spec.edges[name], frame[name])
                else:
                    absent.append(name)
                    columns[name] = NumericalColumn.empty(spec.edges[name])
            elif name in frame:
                columns[name] = CategoricalColumn.from_series(spec.categories[name], frame[name])
            else:
                absent.append(name)
                columns[name] = CategoricalColumn.empty(spec.categories[name])
        return Profile(spec, len(frame), columns, absent_columns=absent)

    return build(reference), build(current)


def binned_by_cuts(edges: np.ndarray, cuts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Counts of raw values over bins given as cell cuts (the profile's binning applied to raw data)."""
    bins = np.searchsorted(cuts, cells_of(edges, values), side="right")
    return np.bincount(bins, minlength=len(cuts) + 1)


# --- Evidently 0.7's formulas on raw values -------------------------------------------------


def evidently_binned(reference: np.ndarray, current: np.ndarray, numerical: bool, fill: bool):
    """``get_binned_data``: Sturges bins over both samples, or one bin per value; optional filling."""
    if numerical and len(np.unique(reference)) > 20:
        bins = np.histogram_bin_edges(np.concatenate([reference, current]), bins="sturges")
        ref = np.histogram(reference, bins)[0] / len(reference)
        cur = np.histogram(current, bins)[0] / len(current)
    else:
        keys = np.union1d(reference, current)
        ref = np.array([(reference == key).sum() for key in keys]) / len(reference)
        cur = np.array([(current == key).sum() for key in keys]) / len(current)
    if fill:
        for shares in (ref, cur):
            smallest = shares[shares != 0].min()
            np.place(shares, shares == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001)
    return ref, cur


def evidently_psi(reference, current, numerical=True) -> float:
    ref, cur = evidently_binned(reference, current, numerical, fill=True)
    return float(np.sum((ref - cur) * np.log(ref / cur)))


def evidently_kl(reference, current, numerical=True) -> float:
    ref, cur = evidently_binned(reference, current, numerical, fill=True)
    return float(scipy.stats.entropy(ref, cur))


def evidently_js(reference, current, numerical=True) -> float:
    ref, cur = evidently_binned(reference, current, numerical, fill=False)
    return float(distance.jensenshannon(ref, cur))


def evidently_hellinger(reference, current, numerical=True) -> float:
    keys = np.union1d(reference, current)
    if numerical:
        bins = np.histogram_bin_edges(keys, bins="sturges")
        ref = np.histogram(reference, bins=bins)[0] / len(reference)
        cur = np.histogram(current, bins=bins)[0] / len(current)
    else:
        ref = np.array([(reference == key).sum() for key in keys]) / len(reference)
        cur = np.array([(current == key).sum() for key in keys]) / len(current)
    return float(np.sqrt(1 - np.clip(np.sum(np.sqrt(ref * cur)), 0, 1)))


def evidently_chisquare(reference, current) -> float:
    keys = np.union1d(reference, current)
    expected = np.array([(reference == key).sum() for key in keys]) * len(current) / len(reference)
    observed = np.array([(current == key).sum() for key in keys])
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(scipy.stats.chisquare(observed, expected).pvalue)


def evidently_z(reference, current) -> float:
    first = np.sort(np.union1d(reference, current))[0]
    ones_ref, ones_cur = reference != first, current != first
    n1, n2 = len(reference), len(current)
    p1, p2 = ones_ref.mean(), ones_cur.mean()
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return float(2 * scipy.stats.norm.sf(abs(z)))


def evidently_wasserstein(reference, current) -> float:
    return float(scipy.stats.wasserstein_distance(reference, current) / max(np.std(reference), 0.001))
