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

from typing import Any

import numpy as np

__all__ = ["boosted_predict"]


def _encoded(model: Any, matrix: np.ndarray) -> np.ndarray | None:
    """The matrix as the model's preprocessor gives it to the trees, or ``None`` when unsure how."""
    preprocessor = getattr(model, "_preprocessor", None)
    if preprocessor is None:
        return matrix
    mask = getattr(model, "is_categorical_", None)
    encoder = getattr(preprocessor, "named_transformers_", {}).get("encoder")
    if mask is None or encoder is None or getattr(encoder, "_infrequent_enabled", False):
        return None
    mask = np.asarray(mask, dtype=bool)
    columns = []
    for position, categories in zip(np.flatnonzero(mask), encoder.categories_, strict=True):
        known = np.asarray(categories, dtype=np.float64)
        known = known[~np.isnan(known)]
        values = matrix[:, position]
        slot = np.searchsorted(known, values)
        inside = slot < len(known)
        found = np.zeros(len(values), dtype=bool)
        found[inside] = known[slot[inside]] == values[inside]
        columns.append(np.where(found, slot, np.nan))
    columns.extend(matrix[:, position] for position in np.flatnonzero(~mask))
    return np.column_stack(columns) if columns else matrix


def boosted_predict(model: Any, matrix: np.ndarray) -> np.ndarray | None:
    """``model.predict(matrix)`` for a fitted ``HistGradientBoostingRegressor`` (see above), or
    ``None`` for a model this cannot read."""
    from sklearn._loss.link import IdentityLink

    needed = ("_predictors", "_bin_mapper", "_baseline_prediction", "_loss", "n_trees_per_iteration_")
    rows = np.asarray(matrix, dtype=np.float64)
    ordinary = (
        not all(hasattr(model, name) for name in needed)
        or not isinstance(model._loss.link, IdentityLink)
        or model.n_trees_per_iteration_ != 1
        or rows.ndim != 2
        or rows.shape[1] != getattr(model, "n_features_in_", -1)
    )
    encoded = None if ordinary else _encoded(model, rows)
    if encoded is None:
        return None
    known_bitsets, feature_map = model._bin_mapper.make_known_categories_bitsets()
    raw = np.zeros((len(rows), 1), dtype=model._baseline_prediction.dtype, order="F")
    raw += model._baseline_prediction
    for (tree,) in model._predictors:
        raw[:, 0] += tree.predict(encoded, known_bitsets, feature_map, 1)
    return raw.ravel()
