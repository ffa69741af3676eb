"""Maximum mean discrepancy between two samples of embeddings, with a permutation p-value.

The kernel is the Gaussian (RBF) ``k(a, b) = exp(-||a - b||^2 / sigma^2)`` with ``sigma`` the
median distance between the pooled rows (the median heuristic; Evidently's ``mmd`` method uses the
same kernel form). The statistic is the unbiased ``MMD^2_u`` of Gretton et al. (2012):

    MMD^2_u = sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (n (n - 1))
              - 2 sum_{i, j} k(x_i, y_j) / (m n)

Its p-value is the share of ``permutations`` random relabellings of the pooled rows whose statistic
is at least the observed one, ``(1 + hits) / (1 + permutations)``; drift when ``p < threshold``
(0.01). Each side is first cut to ``max_rows`` rows drawn at random (seeded), so the cost is
bounded: the kernel matrix of ``2 * max_rows`` rows, and one matrix product for all permutations.
Being a test on the whole distribution, it sees changes that leave every coordinate's marginal as
it was, such as a rotation of correlated coordinates.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> same = mmd_test(rng.normal(size=(300, 4)), rng.normal(size=(300, 4)), permutations=100)
>>> bool(same["p_value"] > 0.05)
True
>>> moved = mmd_test(rng.normal(size=(300, 4)), rng.normal(0.5, 1.0, size=(300, 4)), permutations=100)
>>> moved["p_value"], moved["score"] > 0
(0.009900990099009901, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["MAX_ROWS", "PERMUTATIONS", "mmd_test", "rbf_kernel", "unbiased_mmd2"]

#: rows kept per side (drawn at random) before the kernel matrix is built
MAX_ROWS = 1000
#: random relabellings behind the p-value (its resolution is 1 / (PERMUTATIONS + 1))
PERMUTATIONS = 200


def _squared_distances(rows: np.ndarray) -> np.ndarray:
    norms = np.einsum("ij,ij->i", rows, rows)
    squared = norms[:, None] + norms[None, :] - 2.0 * rows @ rows.T
    np.fill_diagonal(squared, 0.0)
    return np.maximum(squared, 0.0)


def rbf_kernel(rows: np.ndarray) -> tuple[np.ndarray, float]:
    """The RBF kernel matrix of ``rows`` with the median-heuristic bandwidth, and that ``sigma``."""
    squared = _squared_distances(rows)
    upper = squared[np.triu_indices(len(rows), k=1)]
    sigma = float(np.median(np.sqrt(upper))) if len(upper) else 1.0
    sigma = sigma if sigma > 0 else 1.0
    return np.exp(-squared / sigma**2), sigma


def unbiased_mmd2(kernel: np.ndarray, m: int) -> float:
    """``MMD^2_u`` of the first ``m`` rows of the kernel matrix against the others."""
    n = len(kernel) - m
    xx, yy, xy = kernel[:m, :m], kernel[m:, m:], kernel[:m, m:]
    return float(
        (xx.sum() - np.trace(xx)) / (m * (m - 1))
        + (yy.sum() - np.trace(yy)) / (n * (n - 1))
        - 2.0 * xy.sum() / (m * n)
    )


def _permuted_mmd2(kernel: np.ndarray, m: int, permutations: int, rng: np.random.Generator) -> np.ndarray:
    """``MMD^2_u`` under ``permutations`` random relabellings, all from one matrix product."""
    total_rows = len(kernel)
    n = total_rows - m
    members = np.zeros((total_rows, permutations))
    for column in range(permutations):
        members[rng.permutation(total_rows)[:m], column] = 1.0
    within = members * (kernel @ members)
    sum_xx = within.sum(axis=0)
    sum_xy = members.T @ kernel.sum(axis=1) - sum_xx
    sum_yy = kernel.sum() - 2.0 * sum_xy - sum_xx
    trace = np.trace(kernel)  # an RBF kernel's diagonal is 1: each side's trace is its row count
    trace_x = m * trace / total_rows
    return (
        (sum_xx - trace_x) / (m * (m - 1))
        + (sum_yy - (trace - trace_x)) / (n * (n - 1))
        - 2.0 * sum_xy / (m * n)
    )


def _cut(rows: np.ndarray, max_rows: int, rng: np.random.Generator) -> np.ndarray:
    return rows if len(rows) <= max_rows else rows[np.sort(rng.choice(len(rows), max_rows, replace=False))]


def mmd_test(
    reference: np.ndarray,
    current: np.ndarray,
    *,
    threshold: float = 0.01,
    max_rows: int = MAX_ROWS,
    permutations: int = PERMUTATIONS,
    seed: int = 0,
) -> dict[str, Any]:
    """MMD drift between two ``(rows, dimensions)`` arrays: score ``MMD^2_u`` (>= 0), p-value, verdict."""
    if len(reference) < 2 or len(current) < 2:
        raise ValueError(f"MMD needs at least 2 rows on each side, got {len(reference)} and {len(current)}")
    rng = np.random.default_rng(seed)
    x, y = _cut(np.asarray(reference, float), max_rows, rng), _cut(np.asarray(current, float), max_rows, rng)
    kernel, sigma = rbf_kernel(np.vstack([x, y]))
    statistic = unbiased_mmd2(kernel, len(x))
    null = _permuted_mmd2(kernel, len(x), permutations, rng)
    p_value = float((1 + np.count_nonzero(null >= statistic)) / (1 + permutations))
    return {
        "method": "mmd",
        "score": max(statistic, 0.0),
        "threshold": threshold,
        "detected": p_value < threshold,
        "p_value": p_value,
        "sigma": sigma,
        "rows_compared": [len(x), len(y)],
        "permutations": permutations,
    }
