"""The batch path: a report over 1M events stored in SQLite beside the same report from parquet,
and uploading 1M late targets.

    python -m bench.batch_store [--rows 1000000] [--chunk-rows 50000]

Prepared once, not timed: demo taxi trips (the 1M-row current set of bench/full_report.py, with
its incident, and a 100k-row reference), and a SQLite store holding the current rows as events
(``store.events.add_events`` in batches of 50k; no targets), kept in ``bench/data/`` as a pristine
copy. Each run copies it, then times, each in a fresh process:

1. uploading the 1M targets (``store.events.upsert_targets`` of (ride id, duration) pairs);
2. the batch report from the store: the flow's own pieces (``fit_reference`` on the reference
   file, ``CurrentProfile.update_from_store`` over ``store.events.read_frames``, ``report()``);
3. the same report from the parquet file of the same rows (targets included), read in chunks of
   the same size with ``modelmon.io.read_frames``.

Every section that applies runs (no model file, so no SHAP: the flow runs SHAP only when the config
names one). MongoDB is not measured here: no server is available on this machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench.datasets import DATA_DIR
from bench.full_report import taxi_schema, write_data
from bench.harness import measure, python

if TYPE_CHECKING:
    from modelmon.config import ModelConfig

MODEL = "taxi-duration"
REFERENCE_ROWS = 100_000


def model_config(reference: str) -> ModelConfig:
    from modelmon.config import ModelConfig

    return ModelConfig(MODEL, taxi_schema(), reference=Path(reference))


def write_store(current: Path, rows: int, batch: int = 50_000) -> tuple[Path, float]:
    """The pristine store of the current rows as events (no targets), and seconds it took to write."""
    path = DATA_DIR / f"taxi_events_{rows}.db"
    if path.exists():
        return path, float("nan")
    import pandas as pd

    from modelmon.demo import models
    from modelmon.store import open_store

    frame = pd.read_parquet(current)
    features = models.TAXI_NUMERICAL + models.TAXI_CATEGORICAL
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    started = time.perf_counter()
    with open_store(f"sqlite:///{partial}") as store:
        for start in range(0, len(frame), batch):
            part = frame.iloc[start : start + batch]
            records = part[features].astype(object).where(part[features].notna(), None).to_dict("records")
            events = [
                {"id": ride, "timestamp": stamp, "features": record, "prediction": prediction}
                for ride, stamp, record, prediction in zip(
                    part[models.TAXI_ID],
                    part[models.TAXI_TIMESTAMP],
                    records,
                    part[models.TAXI_PREDICTION],
                    strict=True,
                )
            ]
            store.events.add_events(MODEL, events)
    seconds = time.perf_counter() - started
    partial.rename(path)
    return path, seconds


def report_child(source: str, data: str, reference: str, chunk_rows: int) -> None:
    from modelmon.flows.current import CurrentProfile
    from modelmon.flows.reference import fit_reference, wanted_columns
    from modelmon.io import read_frames
    from modelmon.store import open_store

    started = time.perf_counter()
    model = model_config(reference)
    current = CurrentProfile(model, fit_reference(model))
    fitted = time.perf_counter()
    if source == "store":
        with open_store(f"sqlite:///{data}") as store:
            current.update_from_store(store.events.read_frames(MODEL, chunk_rows=chunk_rows))
    else:
        for chunk in read_frames(data, wanted_columns(model), chunk_rows=chunk_rows):
            current.update(chunk)
    profiled = time.perf_counter()
    report = current.report().to_dict()
    finished = time.perf_counter()
    drift = report["drift"]["columns"]
    print(
        json.dumps(
            {
                "rows": current.rows,
                "reference_seconds": fitted - started,
                "profile_seconds": profiled - fitted,
                "sections_seconds": finished - profiled,
                "drifted": sorted(name for name, column in drift.items() if column["detected"]),
                "mae": report["performance"].get("current", {}).get("mae"),
            }
        )
    )


def targets_child(database: str, current: str) -> None:
    import pandas as pd

    from modelmon.demo import models
    from modelmon.store import open_store

    frame = pd.read_parquet(current, columns=[models.TAXI_ID, models.TAXI_TARGET])
    pairs = list(zip(frame[models.TAXI_ID].tolist(), frame[models.TAXI_TARGET].tolist(), strict=True))
    del frame
    with open_store(f"sqlite:///{database}") as store:
        started = time.perf_counter()
        written = store.events.upsert_targets(MODEL, pairs)
        seconds = time.perf_counter() - started
    print(json.dumps({"written": written, "upsert_seconds": seconds}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--report-child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--targets-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.report_child:
        source, data, reference = args.report_child
        report_child(source, data, reference, args.chunk_rows)
        return
    if args.targets_child:
        targets_child(*args.targets_child)
        return
    reference = write_data(REFERENCE_ROWS)[0]
    current = write_data(args.rows)[1]
    pristine, write_seconds = write_store(current, args.rows)
    database = DATA_DIR / f"taxi_events_{args.rows}_run.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(pristine, database)
    upload = measure([python(), "-m", "bench.batch_store", "--targets-child", str(database), str(current)])
    chunk = ["--chunk-rows", str(args.chunk_rows)]
    store = measure(
        [
            python(),
            "-m",
            "bench.batch_store",
            *chunk,
            "--report-child",
            "store",
            str(database),
            str(reference),
        ]
    )
    parquet = measure(
        [
            python(),
            "-m",
            "bench.batch_store",
            *chunk,
            "--report-child",
            "parquet",
            str(current),
            str(reference),
        ]
    )
    print("| work | rows | wall s | peak MiB | in process: reference fit / profiling / sections s | ratio |")
    print("|---|---|---|---|---|---|")
    if write_seconds == write_seconds:  # not NaN: the store was written in this run
        print(
            f"| writing the events (add_events, 50k per call; not a goal) | {args.rows:,} "
            f"| {write_seconds:.1f} | | | |"
        )
    print(
        f"| upload late targets (upsert_targets) | {upload.output['written']:,} | {upload.seconds:.1f} "
        f"| {upload.peak_mib:.0f} | upsert alone {upload.output['upsert_seconds']:.1f} s | |"
    )
    for label, result in (("report from parquet", parquet), ("report from SQLite store", store)):
        out = result.output
        print(
            f"| {label} | {out['rows']:,} | {result.seconds:.1f} | {result.peak_mib:.0f} | "
            f"{out['reference_seconds']:.1f} / {out['profile_seconds']:.1f} / "
            f"{out['sections_seconds']:.1f} | "
            f"{result.seconds / parquet.seconds:.2f}x |"
        )
    for label, result in (("parquet", parquet), ("store", store)):
        print(f"\n{label}: drifted {', '.join(result.output['drifted'])}; current MAE {result.output['mae']}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
