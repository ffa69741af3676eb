"""Profiling 10 million rows from parquet in chunks, in bounded memory.

    python -m bench.profile_10m [--rows 10000000]

Writes the current dataset once (row group by row group, so writing is bounded too), then
profiles it chunk by chunk against the 200k-row reference and runs the drift section. Prints
wall time, rows per second and peak resident memory of the profiling process.

``modelmon.reading.files.read_frames`` reads parquet with pyarrow's read-ahead buffering off: with pyarrow 26
the default ``pre_buffer=True`` keeps every row group read by ``iter_batches`` allocated until the
iteration ends, which made this benchmark peak at 1,790 MiB before the change (613 MiB after).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench.datasets import DATA_DIR, drift_schema, frame, paths
from bench.harness import measure, python


def write_big(rows: int, chunk: int = 500_000) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = DATA_DIR / f"current_{rows}.parquet"
    if path.exists():
        return path
    writer = None
    for start in range(0, rows, chunk):
        table = pa.Table.from_pandas(
            frame(min(chunk, rows - start), seed=100 + start, shifted=True), preserve_index=False
        )
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()
    return path


def profile(reference_path: str, current_path: str) -> dict[str, float]:
    """Profile the current file against the reference; print the result as JSON (for the parent) and
    return it."""
    from modelmon.engine.drift import data_drift
    from modelmon.engine.profile import ProfileSpec
    from modelmon.reading.files import read_frame, read_frames

    started = time.perf_counter()
    reference = read_frame(reference_path)
    schema = drift_schema(reference.columns)
    spec, reference_profile = ProfileSpec.fit_profile(reference, schema)
    current = spec.profile_chunks(read_frames(current_path, chunk_rows=250_000))
    drift = data_drift(reference_profile, current)
    seconds = time.perf_counter() - started
    result = {"rows": current.rows, "seconds": seconds, "drifted": drift.drifted_count}
    print(json.dumps(result))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        reference_path, current_path = args.child
        profile(reference_path, current_path)
        return
    reference, _ = paths(200_000)
    current = write_big(args.rows)
    print("| rows | parquet reading | wall s | rows/s | peak MiB | drifted columns |")
    print("|---|---|---|---|---|---|")
    for label, flags in (("chunks of 250,000 rows", []),):
        command = [python(), "-m", "bench.profile_10m", "--child", str(reference), str(current), *flags]
        result = measure(command)
        rows, drifted = result.output["rows"], result.output["drifted"]
        print(
            f"| {rows:,} | {label} | {result.seconds:.1f} | {rows / result.seconds:,.0f} "
            f"| {result.peak_mib:.0f} | {drifted} |",
            flush=True,
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
