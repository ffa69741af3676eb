"""Resident memory of one model's window against the window's length and the event rate.

    python -m bench.window_memory                 # HEAD beside the commit before the cap
    python -m bench.window_memory --commits 3d27611~1 HEAD --events 1000000

Each run is a fresh process that feeds one window by seconds (the taxi-like schema below: five
numerical and two categorical features, a prediction, a target that never comes, an id, a segment)
with ``--events`` unlabelled events at ``rate`` events per second of simulated time, in batches of
20,000 (the rows placed in their buckets by their timestamps), and remembers their ids as the service does
(:class:`~modelmon.service.model_monitor.RecentIds`). It prints the window's rows, the records
waiting for a target and the process's resident memory. Every commit runs from its own worktree
(as in :mod:`bench.versions`) and the commits take turns on each configuration, so the machine's
drift hits them alike. The recompute's sections are left out: their memory does not grow with
the window.
"""

from __future__ import annotations

import argparse
import inspect
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.harness import ROOT, measure, python
from bench.versions import _worktree

#: (window seconds, events per second)
CONFIGURATIONS = ((600, 100), (3600, 100), (3600, 1000), (86400, 1000))
#: events profiled per call: memory depends on what the window keeps, not on how it was fed
BATCH = 20_000


def _child(seconds: float, rate: float, events: int) -> dict[str, float]:
    import pandas as pd

    from modelmon.config import Window
    from modelmon.engine.profile import ProfileSpec
    from modelmon.schema import Schema
    from modelmon.service.model_monitor import RecentIds
    from modelmon.service.window import SlidingWindow

    numerical = ["trip_distance", "fare_amount", "tip_amount", "passenger_count", "pickup_hour"]
    schema = Schema(
        numerical=numerical,
        categorical=["PULocationID", "payment_type"],
        prediction="duration",
        target="duration_actual",
        id="ride_id",
        segments=["PULocationID"],
    )
    rng = np.random.default_rng(0)

    def frame(rows: int, start: int) -> pd.DataFrame:
        data = {name: rng.gamma(2.0, 3.0, rows) for name in numerical}
        data["PULocationID"] = rng.integers(1, 40, rows).astype(str)
        data["payment_type"] = rng.choice(["card", "cash"], rows)
        data["duration"] = rng.gamma(3.0, 4.0, rows)
        data["duration_actual"] = np.full(rows, np.nan)
        data["ride_id"] = [f"ride-{i}" for i in range(start, start + rows)]
        return pd.DataFrame(data)

    spec = ProfileSpec.fit(frame(5000, -5000).assign(duration_actual=rng.gamma(3.0, 4.0, 5000)), schema)
    options = {}
    if "max_awaiting_target" in inspect.signature(SlidingWindow).parameters:
        from modelmon.config import MAX_AWAITING_TARGET

        options["max_awaiting_target"] = MAX_AWAITING_TARGET
    window = SlidingWindow(spec, Window(seconds=seconds), **options)
    recent = RecentIds(200_000)  # a window by seconds remembers as many ids before and after the cap
    batch = BATCH
    now, sent, started = 1_800_000_000.0, 0, time.perf_counter()
    while sent < events:
        rows = frame(min(batch, events - sent), sent)
        stamps = now + np.arange(len(rows)) / rate
        recent.keep_new([{"__id": event_id} for event_id in rows["ride_id"]])
        now += len(rows) / rate
        window.add(rows, now=now, timestamps=stamps)
        sent += len(rows)
    waiting = sum(len(bucket.label_rows) for bucket in window._ring.values())
    with open("/proc/self/status", encoding="ascii") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return {
        "window_rows": window.rows,
        "awaiting_target": waiting,
        "rss_mib": rss / 1024,
        "seconds": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--commits", nargs="+", default=["3d27611~1", "HEAD"], help="commits to compare")
    parser.add_argument("--events", type=int, default=250_000, help="events fed to each window, at most")
    parser.add_argument(
        "--child", nargs=3, type=float, metavar=("SECONDS", "RATE", "EVENTS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        seconds, rate, events = args.child
        print(json.dumps(_child(seconds, rate, int(events))))
        return
    with tempfile.TemporaryDirectory() as folder:
        sources = {}
        try:
            for number, commit in enumerate(args.commits):
                sources[commit] = _worktree(commit, Path(folder) / f"v{number}")
            print(
                f"`python -m bench.window_memory --commits {' '.join(args.commits)} --events {args.events}`"
            )
            print(
                "| window s | events/s | fed | commit | window rows | awaiting target | RSS MiB | peak MiB |"
            )
            print("|---|---|---|---|---|---|---|---|")
            for seconds, rate in CONFIGURATIONS:
                events = int(min(args.events, seconds * rate))
                for commit, source in sources.items():
                    command = [
                        python(),
                        "-m",
                        "bench.window_memory",
                        "--child",
                        str(seconds),
                        str(rate),
                        str(events),
                    ]
                    result = measure(command, env={"PYTHONPATH": f"{source}:{ROOT}"})
                    out = result.output
                    print(
                        f"| {seconds:,} | {rate:,} | {events:,} | {commit} | {out['window_rows']:,} "
                        f"| {out['awaiting_target']:,} | {out['rss_mib']:.0f} | {result.peak_mib:.0f} |",
                        flush=True,
                    )
        finally:
            for source in sources.values():
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(source.parent)])


if __name__ == "__main__":
    sys.exit(main())
