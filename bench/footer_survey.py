"""How large parquet footers are in files as common writers lay them out, and what pyarrow holds
for them: the basis for keeping ``modelmon.reading.parquet_footer`` (split footers above 1 MiB).

    python -m bench.footer_survey

A footer holds the metadata of every column chunk of every row group, so its size depends on the
row groups and the columns, not on the values. For each writer's default row-group size and each
shape (rows x float columns), a file with the same number of row groups and columns, ten rows a
group, is written to a temporary folder; its footer's size on disk and the resident memory pyarrow
adds by opening it (in a fresh process, as ``bench.parquet_footer`` measures it) stand for those of
the full-size file. Row groups per writer: pandas / pyarrow ``1,048,576`` rows, Polars ``512^2``
rows, DuckDB ``122,880`` rows, Spark 128 MiB of data (here floats: ``128 MiB / (8 x columns)``
rows).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

WRITERS = {
    "pandas / pyarrow": lambda columns: 1_048_576,
    "Polars": lambda columns: 512**2,
    "DuckDB": lambda columns: 122_880,
    "Spark (128 MiB groups)": lambda columns: max((128 << 20) // (8 * columns), 1),
}
SHAPES = [(1_000_000, 100), (1_000_000, 1_000), (10_000_000, 100), (10_000_000, 1_000)]
#: modelmon splits footers above this (``modelmon.reading.parquet_footer.LARGE_FOOTER``)
LARGE_FOOTER = 1 << 20

_HELD = """
import sys, json
import pyarrow.parquet as pq
def resident():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS"))
before = resident()
opened = pq.ParquetFile(sys.argv[1])
metadata = opened.metadata
print(json.dumps({"footer": metadata.serialized_size, "held_kib": resident() - before}))
"""


def stand_in(path: Path, groups: int, columns: int) -> Path:
    """``groups`` row groups of ten rows of ``columns`` float columns."""
    rng = np.random.default_rng(0)
    names = [f"x{i:04d}" for i in range(columns)]
    table = pa.table({name: rng.normal(size=10) for name in names})
    with pq.ParquetWriter(path, table.schema) as writer:
        for _ in range(groups):
            writer.write_table(table)
    return path


def main() -> None:
    print("| writer | rows x columns | row groups | footer MiB | pyarrow holds MiB | split by modelmon |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for writer, group_rows in WRITERS.items():
            for rows, columns in SHAPES:
                groups = math.ceil(rows / group_rows(columns))
                path = stand_in(Path(folder) / f"{groups}x{columns}.parquet", groups, columns)
                done = subprocess.run(
                    [sys.executable, "-c", _HELD, str(path)], capture_output=True, check=True
                )
                held = json.loads(done.stdout)
                footer = held["footer"] / (1 << 20)
                print(
                    f"| {writer} | {rows:,} x {columns:,} | {groups} | {footer:.2f} "
                    f"| {held['held_kib'] / 1024:.0f} | {'yes' if held['footer'] > LARGE_FOOTER else 'no'} |"
                )
                path.unlink()


if __name__ == "__main__":
    main()
