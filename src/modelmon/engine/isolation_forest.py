"""An ``IsolationForest``'s anomaly scores as scikit-learn computes them, without its per-tree
wrapper: :func:`forest_scores`.

``score_samples`` calls each tree through a wrapper that sets and restores scikit-learn's config and
warning filters per tree: most of the time of scoring the few dozen rows a window gets each
recompute. ``tests/engine/test_outliers.py`` checks the scores equal scikit-learn's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sklearn.ensemble import IsolationForest

__all__ = ["forest_scores"]


def forest_scores(forest: IsolationForest, matrix: np.ndarray) -> np.ndarray:
    """``forest.score_samples(matrix)`` computed as scikit-learn computes it (the same trees, sums
    in the same order, so the same numbers) without the wrapper it calls each tree through, which
    sets and restores its config and warning filters per tree: most of the time of scoring the few
    dozen rows a window gets each recompute. A scikit-learn without the per-tree path lengths
    (before 1.5) or its helpers gets the ordinary call; ``tests/engine/test_outliers.py`` checks
    both are equal.

    >>> from sklearn.ensemble import IsolationForest
    >>> rows = np.random.default_rng(0).normal(size=(300, 3))
    >>> forest = IsolationForest(n_estimators=20, random_state=0).fit(rows)
    >>> bool((forest_scores(forest, rows[:5]) == forest.score_samples(rows[:5])).all())
    True
    """
    from sklearn.ensemble import _iforest  # its own helpers, so the chunks are its chunks

    paths = getattr(forest, "_decision_path_lengths", None)
    averages = getattr(forest, "_average_path_length_per_tree", None)
    helpers = ("_average_path_length", "gen_batches", "get_chunk_n_rows")
    if paths is None or averages is None or not all(hasattr(_iforest, name) for name in helpers):
        return np.asarray(forest.score_samples(matrix))
    _average_path_length = _iforest._average_path_length
    gen_batches, get_chunk_n_rows = _iforest.gen_batches, _iforest.get_chunk_n_rows
    rows = np.asarray(matrix, dtype=np.float32)
    count = rows.shape[0]
    subsample = forest._max_features != rows.shape[1]
    denominator = len(forest.estimators_) * _average_path_length([forest._max_samples])
    scores = np.zeros(count, order="F")
    chunk = get_chunk_n_rows(row_bytes=16 * forest._max_features, max_n_rows=count)
    for part in gen_batches(count, chunk):
        block = rows[part]
        depths = np.zeros(block.shape[0], order="F")
        trees = zip(forest.estimators_, forest.estimators_features_, paths, averages, strict=True)
        for tree, features, path, average in trees:
            leaves = tree.tree_.apply(block[:, features] if subsample else block)
            depths += path[leaves] + average[leaves] - 1.0
        # a forest fitted on one row has a denominator and depths of 0: its score is 1
        ones = np.ones_like(depths)
        scores[part] = 2 ** (-np.divide(depths, denominator, out=ones, where=denominator != 0))
    return -scores
