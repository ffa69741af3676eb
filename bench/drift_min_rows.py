"""Null distribution of the drift distances on small current samples: how many rows a verdict needs.

A current sample of ``n`` rows is drawn from the same law as a 20,000-row reference, many times, and
the distance between them (normed Wasserstein for a normal column, Jensen-Shannon for categorical
columns of 3 to 20 categories) is recorded. A distance test at threshold 0.1 says "drift" on a
stationary column more often than a p-value test at 0.05 does until its null 95th percentile is
below 0.1: the table shows from how many rows that holds, which is where
``modelmon.engine.drift.minimum.MIN_ROWS`` comes from.

    python -m bench.drift_min_rows [--draws 400]
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

SIZES = (100, 200, 300, 400, 500, 600, 800, 1000)
QUANTILES = (0.95, 0.99)
CATEGORIES = (3, 5, 10, 20)


def wasserstein_null(n: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    reference = rng.normal(size=20_000)
    scale = reference.std()
    return np.array([wasserstein_distance(reference, rng.normal(size=n)) / scale for _ in range(draws)])


def jensenshannon_null(k: int, n: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    shares = rng.dirichlet(np.full(k, 3.0))
    reference = np.bincount(rng.choice(k, 20_000, p=shares), minlength=k) / 20_000
    scores = []
    for _ in range(draws):
        current = np.bincount(rng.choice(k, n, p=shares), minlength=k) / n
        scores.append(jensenshannon(reference, current))
    return np.array(scores)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draws", type=int, default=400)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print("| test | " + " | ".join(f"{n} rows" for n in SIZES) + " |")
    print("|---|" + "---|" * len(SIZES))
    null = [wasserstein_null(n, args.draws, rng) for n in SIZES]
    for q in QUANTILES:
        cells = [f"{np.quantile(scores, q):.3f}" for scores in null]
        print(f"| normed Wasserstein, normal column, {q:.0%} quantile | " + " | ".join(cells) + " |")
    for k in CATEGORIES:
        null = [jensenshannon_null(k, n, args.draws, rng) for n in SIZES]
        for q in QUANTILES:
            cells = [f"{np.quantile(scores, q):.3f}" for scores in null]
            print(f"| Jensen-Shannon, {k} categories, {q:.0%} quantile | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
