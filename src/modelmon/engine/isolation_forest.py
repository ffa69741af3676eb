"""An ``IsolationForest``'s anomaly scores as scikit-learn computes them, without its per-tree
wrapper: :func:`forest_scores`.

``score_samples`` calls each tree through a wrapper that sets and restores scikit-learn's config and
warning filters per tree: most of the time of scoring the few dozen rows a window gets each
recompute. Without the wrapper, the hundred calls of each tree's compiled walk still cost more than
the walks: up to :data:`WALK_ROWS` rows are therefore walked down every tree at once in numpy, one
level a step (the forest's nodes in flat arrays, a leaf its own child), and each row's path lengths
added over the trees in their order, as scikit-learn adds them. ``tests/engine/test_outliers.py``
checks the scores equal scikit-learn's, both ways.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sklearn.ensemble import IsolationForest

__all__ = ["WALK_ROWS", "forest_scores"]

#: at most this many rows are walked down every tree at once; more go tree by tree, where each
#: tree's compiled walk over many rows is the faster (about even at a few hundred rows)
WALK_ROWS = 256


@dataclass(frozen=True)
class _Nodes:
    """Every tree's nodes in flat arrays: a node's two children (a leaf is its own), the feature
    and threshold it splits on, and what a row ending there adds to its path length."""

    estimators: list[Any]  # the trees these were read from (a forest fitted again has others)
    roots: np.ndarray
    children: np.ndarray  # node 2i + 1 when the value is above the threshold, else 2i
    features: np.ndarray
    thresholds: np.ndarray
    lengths: np.ndarray  # as scikit-learn adds them: the node's path length + average - 1
    depth: int


_NODES: weakref.WeakKeyDictionary[Any, _Nodes] = weakref.WeakKeyDictionary()


def _nodes(forest: IsolationForest, paths: list[np.ndarray], averages: list[np.ndarray]) -> _Nodes:
    nodes = _NODES.get(forest)
    if nodes is not None and nodes.estimators is forest.estimators_:
        return nodes
    roots, children, features, thresholds, lengths, offset = [], [], [], [], [], 0
    trees = zip(forest.estimators_, forest.estimators_features_, paths, averages, strict=True)
    for estimator, used, path, average in trees:
        tree = estimator.tree_
        leaf = tree.children_left == -1
        itself = np.arange(tree.node_count)
        pairs = np.column_stack(
            [np.where(leaf, itself, tree.children_left), np.where(leaf, itself, tree.children_right)]
        )
        roots.append(offset)
        children.append(pairs.ravel() + offset)
        features.append(np.asarray(used)[np.where(leaf, 0, tree.feature)])
        thresholds.append(tree.threshold)
        lengths.append(path + average - 1.0)
        offset += tree.node_count
    nodes = _Nodes(
        forest.estimators_,
        np.asarray(roots, dtype=np.intp),
        np.concatenate(children).astype(np.intp),
        np.concatenate(features).astype(np.intp),
        np.concatenate(thresholds),
        np.concatenate(lengths),
        max(estimator.tree_.max_depth for estimator in forest.estimators_),
    )
    _NODES[forest] = nodes
    return nodes


def _walked(nodes: _Nodes, rows: np.ndarray) -> np.ndarray:
    """Each row's path lengths summed over the trees, the trees in their order."""
    count, width = rows.shape
    values = rows.astype(np.float64).ravel()  # compared as scikit-learn compares: float32 as double
    node = np.repeat(nodes.roots, count)
    start = np.tile(np.arange(count, dtype=np.intp) * width, len(nodes.roots))
    for _ in range(nodes.depth):
        above = values[start + nodes.features[node]] > nodes.thresholds[node]
        node = nodes.children[2 * node + above]
    lengths = nodes.lengths[node].reshape(len(nodes.roots), count)
    # one tree after the other, as scikit-learn adds them (a sum over the trees may pair them up)
    return np.cumsum(lengths, axis=0)[-1]


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
    # a missing value takes the side scikit-learn's own walk picks: left to it
    if 0 < count <= WALK_ROWS and len(forest.estimators_) and not np.isnan(rows).any():
        depths = _walked(_nodes(forest, paths, averages), rows)
        ones = np.ones_like(depths)
        return -(2 ** (-np.divide(depths, denominator, out=ones, where=denominator != 0)))
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
