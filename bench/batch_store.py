"""The batch path: a report over 1M events stored in SQLite and in PostgreSQL beside the same report
from parquet, and uploading 1M late targets to each store.

    python -m bench.batch_store [--rows 1000000] [--chunk-rows 50000] [--no-postgres]

Prepared once, not timed: demo taxi trips (the 1M-row current set of bench/full_report.py, with
its incident, and a 100k-row reference), and a SQLite store holding the current rows as events
(``store.events.add_events`` in batches of 50k; no targets), kept in ``bench/data/`` as a pristine
copy. Each run copies it, then times, each in a fresh process:

1. uploading the 1M targets (``store.events.upsert_targets`` of (ride id, duration) pairs);
2. the batch report from the store: the flow's own pieces (``fit_reference`` on the reference
   file, ``CurrentProfile.update_from_store`` over ``store.events.read_frames``, ``report()``);
3. the same report from the parquet file of the same rows (targets included), read in chunks of
   the same size with ``modelmon.reading.files.read_frames``.

PostgreSQL: the server MODELMON_POSTGRES_URL names, else a throwaway cluster started for the run
(``tests/postgres_support.py``: loopback, ``fsync`` off, 64 MB shared buffers); the same events are
written into it at each run (timed, not a goal), then steps 1 and 2 run against it. A child's peak
memory is its own: the server's is not in it.

Every section that applies runs (no model file, so no SHAP: the flow runs SHAP only when the config
names one). MongoDB is not measured here: no server is available on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.datasets import DATA_DIR
from bench.full_report import taxi_schema, write_data
from bench.harness import ROOT, Measurement, measure, python

if TYPE_CHECKING:
    from modelmon.config import ModelConfig

MODEL = "taxi-duration"
REFERENCE_ROWS = 100_000


def model_config(reference: str) -> ModelConfig:
    from modelmon.config import ModelConfig

    return ModelConfig(MODEL, taxi_schema(), reference=Path(reference))


def store_url(data: str) -> str:
    """The store URL of a child's argument: a URL as it is, a file path as a SQLite store."""
    return data if "://" in data else f"sqlite:///{data}"


def event_batches(current: Path, batch: int) -> Iterator[list[dict[str, Any]]]:
    """The current rows as events (no targets), ``batch`` per list."""
    import pandas as pd

    from modelmon.demo import models

    frame = pd.read_parquet(current)
    features = models.TAXI_NUMERICAL + models.TAXI_CATEGORICAL
    for start in range(0, len(frame), batch):
        part = frame.iloc[start : start + batch]
        records = part[features].astype(object).where(part[features].notna(), None).to_dict("records")
        yield [
            {"id": ride, "timestamp": stamp, "features": record, "prediction": prediction}
            for ride, stamp, record, prediction in zip(
                part[models.TAXI_ID],
                part[models.TAXI_TIMESTAMP],
                records,
                part[models.TAXI_PREDICTION],
                strict=True,
            )
        ]


def fill_store(url: str, current: Path, batch: int = 50_000) -> float:
    """Write the current rows as events into the store of ``url``; the seconds it took."""
    from modelmon.store import open_store

    started = time.perf_counter()
    with open_store(url) as store:
        for events in event_batches(current, batch):
            store.events.add_events(MODEL, events)
    return time.perf_counter() - started


def write_store(current: Path, rows: int, batch: int = 50_000) -> tuple[Path, float]:
    """The pristine store of the current rows as events (no targets), and seconds it took to write."""
    path = DATA_DIR / f"taxi_events_{rows}.db"
    if path.exists():
        return path, float("nan")
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    seconds = fill_store(f"sqlite:///{partial}", current, batch)
    partial.rename(path)
    return path, seconds


def report_child(source: str, data: str, reference: str, chunk_rows: int) -> None:
    from modelmon.flows.current import CurrentProfile
    from modelmon.flows.reference import fit_reference, wanted_columns
    from modelmon.reading.files import read_frames
    from modelmon.store import open_store

    started = time.perf_counter()
    model = model_config(reference)
    current = CurrentProfile(model, fit_reference(model))
    fitted = time.perf_counter()
    if source == "store":
        with open_store(store_url(data)) as store:
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
    with open_store(store_url(database)) as store:
        started = time.perf_counter()
        written = store.events.upsert_targets(MODEL, pairs)
        seconds = time.perf_counter() - started
    print(json.dumps({"written": written, "upsert_seconds": seconds}))


def _child(*arguments: str) -> Measurement:
    return measure([python(), "-m", "bench.batch_store", *arguments])


class PostgresDatabase:
    """A fresh schema in the server of MODELMON_POSTGRES_URL, else in a throwaway cluster; dropped
    (and the cluster stopped) on exit."""

    def __enter__(self) -> str:
        import uuid

        import psycopg

        self.cluster = None
        server = os.environ.get("MODELMON_POSTGRES_URL")
        if server is None:
            sys.path.insert(0, str(ROOT / "tests"))
            from postgres_support import start_cluster

            self.cluster = start_cluster()
            server = self.cluster.url()
        self.server = server
        self.schema = f"bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f"CREATE SCHEMA {self.schema}")
        return f"{server}{'&' if '?' in server else '?'}options=-csearch_path%3D{self.schema}"

    def __exit__(self, *exc_info: object) -> None:
        import psycopg

        try:
            with psycopg.connect(self.server, autocommit=True) as connection:
                connection.execute(f"DROP SCHEMA {self.schema} CASCADE")
        finally:
            if self.cluster is not None:
                self.cluster.stop()


def measure_postgres(current: Path, reference: Path, chunk: list[str]) -> dict[str, Any]:
    """Write the events into PostgreSQL, then time the upload of the targets and the report."""
    with PostgresDatabase() as url:
        write_seconds = fill_store(url, current)
        upload = _child("--targets-child", url, str(current))
        report = _child(*chunk, "--report-child", "store", url, str(reference))
    return {"write_seconds": write_seconds, "upload": upload, "report": report}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--no-postgres", action="store_true", help="measure SQLite and parquet only")
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
    chunk = ["--chunk-rows", str(args.chunk_rows)]
    uploads = {"SQLite": _child("--targets-child", str(database), str(current))}
    reports = {
        "parquet": _child(*chunk, "--report-child", "parquet", str(current), str(reference)),
        "SQLite store": _child(*chunk, "--report-child", "store", str(database), str(reference)),
    }
    writes = {"SQLite": write_seconds}
    if not args.no_postgres:
        postgres = measure_postgres(current, reference, chunk)
        writes["PostgreSQL"] = postgres["write_seconds"]
        uploads["PostgreSQL"] = postgres["upload"]
        reports["PostgreSQL store"] = postgres["report"]
    print("| work | rows | wall s | peak MiB | in process: reference fit / profiling / sections s | ratio |")
    print("|---|---|---|---|---|---|")
    for name, seconds in writes.items():
        if seconds == seconds:  # not NaN: the store was written in this run
            print(
                f"| writing the events to {name} (add_events, 50k per call; not a goal) | {args.rows:,} "
                f"| {seconds:.1f} | | | |"
            )
    for name, upload in uploads.items():
        print(
            f"| upload late targets to {name} (upsert_targets) | {upload.output['written']:,} "
            f"| {upload.seconds:.1f} | {upload.peak_mib:.0f} "
            f"| upsert alone {upload.output['upsert_seconds']:.1f} s | |"
        )
    for name, result in reports.items():
        out = result.output
        print(
            f"| report from {name} | {out['rows']:,} | {result.seconds:.1f} | {result.peak_mib:.0f} | "
            f"{out['reference_seconds']:.1f} / {out['profile_seconds']:.1f} / "
            f"{out['sections_seconds']:.1f} | "
            f"{result.seconds / reports['parquet'].seconds:.2f}x |"
        )
    for name, result in reports.items():
        print(f"\n{name}: drifted {', '.join(result.output['drifted'])}; current MAE {result.output['mae']}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
