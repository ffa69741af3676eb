"""What a parquet file's footer costs in memory once pyarrow has read it.

    python -m bench.parquet_footer bench/data/wide_reference_3000000x1000_float32.parquet ...

A reader holds the whole footer (the metadata of every column chunk of every row group) while the
file is open, so on a wide file it grows with the number of row groups, that is with the rows for a
fixed row-group size. Prints, per file, its row groups, columns, the footer's size on disk and the
resident memory that opening the file added (each file in a fresh process).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="+")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_open(args.one)))
        return
    print("| file | row groups | columns | footer on disk MiB | resident MiB once open |")
    print("|---|---|---|---|---|")
    for path in args.files:
        line = subprocess.run(
            [sys.executable, "-m", "bench.parquet_footer", "-", "--one", path],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        point = json.loads(line)
        print(
            f"| {path} | {point['row_groups']} | {point['columns']} | {point['footer_mib']} "
            f"| {point['resident_mib']} |"
        )


if __name__ == "__main__":
    main()
