"""A fitted ``HistGradientBoostingRegressor``'s predictions, as scikit-learn computes them, for the
few dozen rows a window gets each recompute.

scikit-learn's ``predict`` spends most of such a call around the trees rather than in them: its
``ColumnTransformer`` re-encodes the categorical columns (an ``OrdinalEncoder`` behind three layers
of validation), and the caller has to hold the OpenMP pool to one thread (``threadpoolctl``
inspects every loaded library each time) so that the compiled loop does not spin threads on a busy
machine. :func:`boosted_predict` encodes the categories itself (a value's position among the
encoder's sorted categories; a missing or unknown value is NaN, as the encoder's ``unknown_value``
and ``encoded_missing_value`` are), puts the columns in the transformer's order (categorical first),
and calls each tree's own compiled predictor on one thread, adding the trees in their order to the
baseline as ``_raw_predict`` does: the same additions in the same order, so the same numbers.
What does not depend on the rows (the known categories, the bitsets, each tree's arrays) is read
once per fit and kept beside the model while it lives.
A model this does not know how to read (another loss link, infrequent categories, a scikit-learn
without these attributes) gives ``None``: the caller makes the ordinary call.
``tests/engine/test_boosted_trees.py`` checks equality with ``predict`` on missing, unknown and
out-of-range values.

>>> import numpy as np
>>> from sklearn.ensemble import HistGradientBoostingRegressor
>>> rng = np.random.default_rng(0)
>>> rows = np.column_stack([rng.normal(size=400), rng.integers(0, 5, 400).astype(float)])
>>> model = HistGradientBoostingRegressor(max_iter=20, categorical_features=[False, True]).fit(
...     rows, rows[:, 0] + rows[:, 1]
... )
>>> predicted = boosted_predict(model, rows[:30])
>>> predicted is not None and bool((predicted == model.predict(rows[:30])).all())
True
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["boosted_predict"]


def _encoded(reader: _Reader, matrix: np.ndarray) -> np.ndarray:
    """The matrix as the model's preprocessor gives it to the trees."""
    if reader.categorical is None:
        return matrix
    columns = []
    for position, known in zip(reader.categorical, reader.known, strict=True):
        values = matrix[:, position]
        slot = np.searchsorted(known, values)
        inside = slot < len(known)
        found = np.zeros(len(values), dtype=bool)
        found[inside] = known[slot[inside]] == values[inside]
        columns.append(np.where(found, slot, np.nan))
    columns.extend(matrix[:, position] for position in reader.numerical)
    return np.column_stack(columns) if columns else matrix


@dataclass(frozen=True)
class _Reader:
    """What a prediction needs from one fitted model that does not depend on the rows: read once
    per fit (the bitsets alone cost about as much as walking 50 rows down a tree)."""

    predictors: list[Any]  # the fit's own list: a model fitted again has a new one
    categorical: np.ndarray | None  # positions of the categorical columns; None: no preprocessor
    numerical: np.ndarray
    known: list[np.ndarray]  # each categorical column's sorted known values, NaN left out
    trees: list[tuple[np.ndarray, np.ndarray]]  # each tree's nodes and its left-category bitsets
    known_bitsets: np.ndarray
    feature_map: np.ndarray
    baseline: np.ndarray


_readers: weakref.WeakKeyDictionary[Any, _Reader | None] = weakref.WeakKeyDictionary()


def _read(model: Any) -> _Reader | None:
    """The model's :class:`_Reader`, or ``None`` for a model this does not know how to read."""
    from sklearn._loss.link import IdentityLink

    needed = ("_predictors", "_bin_mapper", "_baseline_prediction", "_loss", "n_trees_per_iteration_")
    if (
        not all(hasattr(model, name) for name in needed)
        or not isinstance(model._loss.link, IdentityLink)
        or model.n_trees_per_iteration_ != 1
    ):
        return None
    categorical, numerical, known = None, np.zeros(0, dtype=np.int64), []
    preprocessor = getattr(model, "_preprocessor", None)
    if preprocessor is not None:
        mask = getattr(model, "is_categorical_", None)
        encoder = getattr(preprocessor, "named_transformers_", {}).get("encoder")
        if mask is None or encoder is None or getattr(encoder, "_infrequent_enabled", False):
            return None
        mask = np.asarray(mask, dtype=bool)
        categorical, numerical = np.flatnonzero(mask), np.flatnonzero(~mask)
        for categories in encoder.categories_:
            values = np.asarray(categories, dtype=np.float64)
            known.append(values[~np.isnan(values)])
        if len(known) != len(categorical):
            return None
    known_bitsets, feature_map = model._bin_mapper.make_known_categories_bitsets()
    return _Reader(
        model._predictors,
        categorical,
        numerical,
        known,
        [(tree.nodes, tree.raw_left_cat_bitsets) for (tree,) in model._predictors],
        known_bitsets,
        feature_map,
        model._baseline_prediction,
    )


def _reader(model: Any) -> _Reader | None:
    """The model's reader, kept while the model lives and made again when it is fitted again."""
    try:
        reader = _readers.get(model)
    except TypeError:  # no weak reference to it: read each time
        return _read(model)
    if reader is None or reader.predictors is not getattr(model, "_predictors", None):
        reader = _readers[model] = _read(model)
    return reader


def boosted_predict(model: Any, matrix: np.ndarray) -> np.ndarray | None:
    """``model.predict(matrix)`` for a fitted ``HistGradientBoostingRegressor`` (see above), or
    ``None`` for a model this cannot read."""
    from sklearn.ensemble._hist_gradient_boosting._predictor import _predict_from_raw_data

    rows = np.asarray(matrix, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] != getattr(model, "n_features_in_", -1):
        return None
    reader = _reader(model)
    if reader is None:
        return None
    encoded = _encoded(reader, rows)
    raw = np.zeros((len(rows), 1), dtype=reader.baseline.dtype, order="F")
    raw += reader.baseline
    tree_raw = np.empty(len(rows), dtype=np.float64)
    for nodes, left_bitsets in reader.trees:
        _predict_from_raw_data(
            nodes, encoded, left_bitsets, reader.known_bitsets, reader.feature_map, 1, tree_raw
        )
        raw[:, 0] += tree_raw
    return raw.ravel()
