"""What a parquet file's footer costs in memory once pyarrow has read it.

    python -m bench.parquet_footer bench/data/wide_reference_3000000x1000_float32.parquet ...

pyarrow holds the whole footer (the metadata of every column chunk of every row group) while the
file is open, so on a wide file it grows with the number of row groups, that is with the rows for a
fixed row-group size. Prints, per file, its row groups, columns, the footer's size on disk and the
resident memory that opening the file with pyarrow added; then, as modelmon reads it split by row
group (``modelmon.reading.parquet_footer``), the seconds walking the footer took and the resident memory
held once the file is open and a row group read from it. Each measurement runs in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys


def _open(path: str) -> dict[str, float]:
    import resource

    import pyarrow.parquet as pq

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    metadata = pq.ParquetFile(path).metadata
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "row_groups": metadata.num_row_groups,
        "columns": metadata.num_columns,
        "footer_mib": round(metadata.serialized_size / 2**20, 1),
        "resident_mib": round((after - before) / 1024),
    }


def _split(path: str) -> dict[str, float]:
    import tempfile
    import time
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.parquet as pq

    import modelmon.reading.files as io
    import modelmon.reading.parquet_footer as footer

    with tempfile.TemporaryDirectory() as folder:  # pyarrow's own first allocations, on a small file
        small = Path(folder) / "small.parquet"
        pq.write_table(pa.table({"x": [1.0]}), small)
        pq.ParquetFile(small).read()
    footer.LARGE_FOOTER = 0  # split whatever the footer's size
    before = _resident_mib()
    start = time.perf_counter()
    parquet = io._RowGroups.open(Path(path))
    walked = time.perf_counter() - start
    parquet.read([0], [parquet.schema_arrow.names[0]])
    return {"walk_s": round(walked, 2), "held_mib": round(_resident_mib() - before, 1)}


def _resident_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


def _measure(mode: str, path: str) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.parquet_footer", "-", f"--{mode}", path]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="+")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--split", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one or args.split:
        print(json.dumps(_open(args.one) if args.one else _split(args.split)))
        return
    print(
        "| file | row groups | columns | footer on disk MiB | resident MiB once open (pyarrow) "
        "| split: walk s | split: resident MiB held |"
    )
    print("|---|---|---|---|---|---|---|")
    for path in args.files:
        whole, split = _measure("one", path), _measure("split", path)
        print(
            f"| {path} | {whole['row_groups']} | {whole['columns']} | {whole['footer_mib']} "
            f"| {whole['resident_mib']} | {split['walk_s']} | {split['held_mib']} |"
        )


if __name__ == "__main__":
    main()
