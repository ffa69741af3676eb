"""Wide float data: ROWS x COLUMNS float columns, written once in chunks to ``bench/data/``.

    python -m bench.wide --rows 200000 --columns 1000 [--dtype float32] [--layout pandas]

Reference and current files have the same column distributions (normal, lognormal and gamma in
turn) except every fifth column of the current file, moved by half a standard deviation, so a
report finds drift in a fifth of the columns. Files are written row group by row group (about
64 MiB each), so generating 3M x 1,000 needs no more memory than one row group. ``float32``
halves the file for the largest sizes; modelmon and Evidently read the values as float64 alike.
``--layout pandas`` writes each file as users' files mostly are: the whole frame built in memory
and written by ``DataFrame.to_parquet()`` with its defaults, which puts up to about a million rows
in one row group (200k x 1,000 floats: one row group of 1.6 GB). ``--layout quarters`` writes it
the same way in four row groups (``row_group_size`` a quarter of the rows: 400 MB each at that size).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DATA_DIR = Path(__file__).parent / "data"
#: bytes of float64 values per written row group
GROUP_BYTES = 64 << 20


def names(columns: int) -> list[str]:
    return [f"num_{i:04d}" for i in range(columns)]


def _block(rng: np.random.Generator, rows: int, columns: int, shifted: bool, dtype: str) -> pa.Table:
    arrays = []
    for i in range(columns):
        kind = i % 3
        if kind == 0:
            values, spread = rng.normal(10 + i % 7, 1 + (i % 5) / 10, rows), 1 + (i % 5) / 10
        elif kind == 1:
            values, spread = rng.lognormal(1, 0.5, rows), 1.6
        else:
            values, spread = rng.gamma(2 + (i % 4) / 2, 2, rows), 3.0
        if shifted and i % 5 == 0:
            values = values + 0.5 * spread
        arrays.append(pa.array(values.astype(dtype)))
    return pa.Table.from_arrays(arrays, names=names(columns))


def write(path: Path, rows: int, columns: int, seed: int, shifted: bool, dtype: str = "float64") -> Path:
    """Write the file row group by row group (fixed seed: the same bytes every time)."""
    rng = np.random.default_rng(seed)
    group = max(GROUP_BYTES // (8 * columns), 1000)
    partial = path.with_suffix(".partial")
    with pq.ParquetWriter(partial, _block(rng, 1, columns, shifted, dtype).schema) as writer:
        for start in range(0, rows, group):
            writer.write_table(_block(rng, min(group, rows - start), columns, shifted, dtype))
    partial.rename(path)
    return path


def write_as_pandas(
    path: Path, rows: int, columns: int, seed: int, shifted: bool, dtype: str, row_groups: int = 1
) -> Path:
    """Write the file as ``DataFrame.to_parquet()`` does by default (fixed seed), or in
    ``row_groups`` row groups of equal size."""
    frame = _block(np.random.default_rng(seed), rows, columns, shifted, dtype).to_pandas()
    partial = path.with_suffix(".partial")
    frame.to_parquet(partial, **({} if row_groups == 1 else {"row_group_size": -(-rows // row_groups)}))
    partial.rename(path)
    return path


def paths(rows: int, columns: int, dtype: str = "float64", layout: str = "groups") -> tuple[Path, Path]:
    """(reference, current) paths for a shape, written when missing; ``layout`` is ``"groups"``
    (row groups of about 64 MiB), ``"pandas"`` (``DataFrame.to_parquet()``'s defaults) or
    ``"quarters"`` (the same in four row groups)."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    suffix = ("" if dtype == "float64" else f"_{dtype}") + ("" if layout == "groups" else f"_{layout}")
    reference = DATA_DIR / f"wide_reference_{rows}x{columns}{suffix}.parquet"
    current = DATA_DIR / f"wide_current_{rows}x{columns}{suffix}.parquet"
    for path, seed, shifted in ((reference, 11, False), (current, 12, True)):
        if path.exists():
            continue
        if layout == "groups":
            write(path, rows, columns, seed=seed, shifted=shifted, dtype=dtype)
        else:
            row_groups = 4 if layout == "quarters" else 1
            write_as_pandas(path, rows, columns, seed, shifted, dtype, row_groups)
    return reference, current


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--columns", type=int, required=True)
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--layout", choices=["groups", "pandas", "quarters"], default="groups")
    args = parser.parse_args()
    print(*paths(args.rows, args.columns, args.dtype, args.layout))


if __name__ == "__main__":
    main()
