"""Benchmark data: 15 numerical and 5 categorical columns (10 levels), 5 numerical columns shifted.

Written once per size to ``bench/data/`` as parquet, so every tool reads the same bytes.

    python -m bench.datasets --rows 200000 1000000
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from modelmon.schema import Schema

DATA_DIR = Path(__file__).parent / "data"
NUMERICAL = [f"num_{i:02d}" for i in range(15)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
SHIFTED = NUMERICAL[:5]


def frame(rows: int, seed: int, shifted: bool) -> pd.DataFrame:
    """One dataset; ``shifted`` moves the first five numerical columns by half a standard deviation."""
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {}
    for i, name in enumerate(NUMERICAL):
        kind = i % 3
        if kind == 0:
            values = rng.normal(10 + i, 1 + i / 10, rows)
        elif kind == 1:
            values = rng.lognormal(1, 0.5, rows)
        else:
            values = rng.gamma(2 + i / 5, 2, rows)
        if shifted and name in SHIFTED:
            values = values + 0.5 * values.std()
        data[name] = values
    levels = np.array([f"level_{k}" for k in range(10)])
    weights = np.linspace(1, 3, 10)
    for name in CATEGORICAL:
        data[name] = rng.choice(levels, rows, p=weights / weights.sum())
    return pd.DataFrame(data)


def drift_schema(columns: Iterable[str]) -> Schema:
    """The schema of a benchmark file's columns: ``num_*`` numerical, ``cat_*`` categorical."""
    from modelmon.schema import Schema

    names = [str(name) for name in columns]
    return Schema(
        numerical=[c for c in names if c.startswith("num_")],
        categorical=[c for c in names if c.startswith("cat_")],
    )


def paths(rows: int) -> tuple[Path, Path]:
    """(reference, current) parquet paths for a size, written when missing."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    reference = DATA_DIR / f"reference_{rows}.parquet"
    current = DATA_DIR / f"current_{rows}.parquet"
    if not reference.exists():
        frame(rows, seed=1, shifted=False).to_parquet(reference, index=False)
    if not current.exists():
        frame(rows, seed=2, shifted=True).to_parquet(current, index=False)
    return reference, current


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[200_000, 1_000_000])
    for rows in parser.parse_args().rows:
        print(*paths(rows))


if __name__ == "__main__":
    main()
