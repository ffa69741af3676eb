"""One model's window recompute, this checkout beside other commits, their rounds interleaved.

    python -m bench.recompute HEAD~3 [--window-rows 10000] [--new-events 50] [--rounds 15] [--phases]

Each version runs in its own worker process (``python -m bench.recompute --worker`` with that
commit's ``src`` first on ``PYTHONPATH``, as ``bench.versions`` does) holding the demo taxi model
(without its model file: SHAP runs apart, once a minute) with a window of ``--window-rows`` filled
with demo events. A round, taken by each worker in turn, times two recomputes:

- ``with new events``: ``--new-events`` new events (ids never sent) queued, then ``recompute()``:
  what a model sees each refresh under traffic (200 models at 2,000 events/s with a refresh of 5 s
  get 50 events each);
- ``forced, nothing new``: ``recompute()`` again at once: every online section on the same window.

Within the first, ``of it: the new rows into the window`` times the new rows' framing and profiling
alone (the monitor's ``_add_rows``), a small part of a recompute hidden by its noise otherwise; the
per-segment drift tests (``segment_drift``, as the segments section calls it) and the sums of
per-segment drift parts (``SegmentDriftPart.total``, in the window's sums) are timed apart the same
way.

Prints, per commit, the median and quartiles of wall and CPU milliseconds of each; with
``--phases``, the share of a recompute with new events spent in each phase (:data:`PHASES`, from
cProfile's cumulative times over 8 more rounds).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import ROOT, python

MODEL = "taxi-duration"


def _worker(window_rows: int, new_events: int) -> None:
    """Fill a window, then answer each ``round`` line with one round's timings (JSON)."""
    from dataclasses import replace

    from bench.online import demo_events
    from modelmon.config import Window, load_config
    from modelmon.demo.files import write_demo_files
    from modelmon.service.model_monitor import ModelMonitor

    try:
        from modelmon.reading.files import read_frame
    except ImportError:  # a commit from before the reading layer held the file readers
        from modelmon.io import read_frame  # type: ignore[no-redef]

    with tempfile.TemporaryDirectory(prefix="bench-recompute-") as folder:
        config_path = write_demo_files(folder, rows=5_000)
        config = load_config(config_path).model(MODEL)
        config = replace(config, model_file=None, window=Window(rows=window_rows))
        assert config.reference is not None
        monitor = ModelMonitor(config, read_frame(config.reference))
        events = demo_events(Path(folder), window_rows)
        monitor.ingest(events)
        monitor.recompute()
        added = _time_new_rows(monitor)
        watches = _segment_drift_watches()
        sent = 0
        print("ready", flush=True)
        for line in sys.stdin:
            if line.strip() == "phases":
                print(json.dumps(_phases(monitor, events, sent, new_events)), flush=True)
                continue
            if line.strip() != "round":
                break
            fresh = [dict(events[(sent + i) % len(events)], id=f"new-{sent + i}") for i in range(new_events)]
            sent += new_events
            monitor.ingest(fresh)
            timings = {}
            for name in ("with new events", "forced, nothing new"):
                for watch in watches.values():
                    watch.read()
                wall, cpu = time.perf_counter(), time.process_time()
                monitor.recompute()
                timings[name] = (1000 * (time.perf_counter() - wall), 1000 * (time.process_time() - cpu))
                if name == "with new events" and added:
                    timings[NEW_ROWS] = added.pop()
                if name == "with new events":
                    timings.update({label: watch.read() for label, watch in watches.items()})
            print(json.dumps(timings), flush=True)


#: the part of a recompute with new events that takes them into the window (framed and profiled)
NEW_ROWS = "  of it: the new rows into the window"


def _time_new_rows(monitor: Any) -> list[tuple[float, float]]:
    """The wall and CPU ms of each later taking of queued rows into the window (the monitor's
    ``_add_rows``; nothing for a commit without it)."""
    spent: list[tuple[float, float]] = []
    add_rows = getattr(monitor, "_add_rows", None)
    if add_rows is None:
        return spent

    def timed(*args: Any, **kwargs: Any) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        add_rows(*args, **kwargs)
        spent.append((1000 * (time.perf_counter() - wall), 1000 * (time.process_time() - cpu)))

    monitor._add_rows = timed
    return spent


#: the parts of a recompute with new events that test each segment value's drift, and that add up
#: per-segment drift parts (a bucket and its new rows, the window's total)
SEGMENT_DRIFT = "  of it: per-segment drift tests"
SEGMENT_SUMS = "  of it: per-segment drift parts added up"


class _Stopwatch:
    """Wall and CPU ms spent in the functions it wraps since it was last read."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def wrap(self, function: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.wall += 1000 * (time.perf_counter() - wall)
                self.cpu += 1000 * (time.process_time() - cpu)

        return timed

    def read(self) -> tuple[float, float]:
        spent = (self.wall, self.cpu)
        self.wall = self.cpu = 0.0
        return spent


def _segment_drift_watches() -> dict[str, _Stopwatch]:
    """Stopwatches on the per-segment drift tests and the sums of per-segment drift parts (none
    for a commit without them)."""
    try:
        from modelmon.engine import segment_drift
    except ImportError:
        return {}
    watches: dict[str, _Stopwatch] = {}
    if hasattr(segment_drift, "segment_drift"):
        watches[SEGMENT_DRIFT] = _Stopwatch()
        segment_drift.segment_drift = watches[SEGMENT_DRIFT].wrap(segment_drift.segment_drift)
    part = getattr(segment_drift, "SegmentDriftPart", None)
    if part is not None and "total" in vars(part):
        watches[SEGMENT_SUMS] = _Stopwatch()
        part.total = classmethod(watches[SEGMENT_SUMS].wrap(part.total.__func__))
    return watches


#: where a recompute's time goes: (label, module file suffix, function name), read from cProfile
PHASES = (
    ("profiling the new rows", "engine/profile.py", "profile"),
    ("profiling the new rows", "engine/slices.py", "profile_slices"),  # the same phase, later code
    ("adding profiles (buckets, window total)", "engine/profile.py", "__add__"),
    # the same phase, later code: a bucket's added profiles summed at once, the older buckets' sum
    ("adding profiles (buckets, window total)", "service/window.py", "_summed"),
    ("adding profiles (buckets, window total)", "service/window_total.py", "_older_sum"),
    ("adding profiles (buckets, window total)", "service/window_total.py", "_older_pieces"),
    ("summing the window (current)", "service/window.py", "current"),
    ("section: segments (per-segment drift)", "engine/segments.py", "segments_section"),
    ("section: outliers", "engine/outliers.py", "outliers_section"),
    ("section: drift", "sections/drift.py", "compute"),
    ("section: quality", "engine/quality.py", "quality_section"),
    ("section: performance", "engine/performance.py", "performance_section"),
    ("section: fairness", "engine/fairness.py", "fairness_section"),
    ("KS p-values (scipy)", "drift/ks.py", "_p_value"),
    # inside the phases above, where most of their time went at the fourth session's start
    ("  of the new rows: the label-free estimate's loss models", "engine/dle.py", "build_slices"),
    ("  of the new rows: outlier scores", "engine/outliers.py", "build_slices"),
    ("  of the new rows: per-segment drift summaries", "engine/segment_drift.py", "build_slices"),
    ("  per-segment drift parts added up (buckets, totals)", "engine/segment_drift.py", "total"),
    ("  KS exact p-values (scipy's path count)", "drift/ks.py", "_exact_p_value"),
)


def _phases(monitor: Any, events: list[dict[str, Any]], sent: int, new_events: int, rounds: int = 8) -> dict:
    """Share of the recompute (with new events) spent in each of :data:`PHASES`, under cProfile."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    for number in range(rounds):
        start = sent + (number + 1) * 10_000_000  # ids never sent
        monitor.ingest([dict(events[i % len(events)], id=f"p-{start + i}") for i in range(new_events)])
        profiler.enable()
        monitor.recompute()
        profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    # one row's functions of one name in one file (a part's ``total`` and its summaries' ``total``)
    # may call each other: the row takes the largest cumulative time, not their sum
    per_row: dict[int, float] = {}
    total = 0.0
    for (path, _, function), (_, _, _, seconds, _) in stats.items():
        if path.endswith("service/model_monitor.py") and function == "recompute":
            total += seconds
        for row, (_, suffix, name) in enumerate(PHASES):
            if path.endswith(suffix) and function == name:
                per_row[row] = max(per_row.get(row, 0.0), seconds)
    cumulative: dict[str, float] = {}
    for row, seconds in per_row.items():
        label = PHASES[row][0]
        cumulative[label] = cumulative.get(label, 0.0) + seconds
    return {label: round(100 * cumulative.get(label, 0.0) / total, 1) for label in _labels()}


def _labels() -> list[str]:
    return list(dict.fromkeys(label for label, _, _ in PHASES))


def _start(source: Path, window_rows: int, new_events: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(source)}
    command = [python(), "-m", "bench.recompute", "--worker", str(window_rows), str(new_events)]
    worker = subprocess.Popen(
        command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    return worker


def _ask(worker: subprocess.Popen[str], what: str = "round") -> dict[str, Any]:
    assert worker.stdin is not None and worker.stdout is not None
    worker.stdin.write(f"{what}\n")
    worker.stdin.flush()
    return dict(json.loads(worker.stdout.readline()))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("commits", nargs="*", help="commits to run beside this checkout")
    parser.add_argument("--window-rows", type=int, default=10_000)
    parser.add_argument("--new-events", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--phases", action="store_true", help="also where the time goes (cProfile)")
    parser.add_argument("--worker", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(*args.worker)
        return
    from bench.versions import _worktree

    with tempfile.TemporaryDirectory() as folder:
        sources = {"this checkout": ROOT / "src"}
        for number, commit in enumerate(args.commits):
            sources[commit] = _worktree(commit, Path(folder) / f"v{number}")
        workers = {}
        try:
            for label, source in sources.items():
                workers[label] = _start(source, args.window_rows, args.new_events)
            for worker in workers.values():
                assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
            rounds: dict[str, list[dict[str, Any]]] = {label: [] for label in workers}
            labels = list(workers)
            for number in range(args.rounds):
                for label in labels if number % 2 == 0 else labels[::-1]:
                    rounds[label].append(_ask(workers[label]))
            phases = {label: _ask(workers[label], "phases") for label in labels} if args.phases else {}
        finally:
            for worker in workers.values():
                worker.kill()
                worker.wait()
            for label, source in sources.items():
                if label != "this checkout":
                    subprocess.run(
                        ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(source.parent)]
                    )
    print(
        f"`python -m bench.recompute {' '.join(args.commits)} --window-rows {args.window_rows} "
        f"--new-events {args.new_events} --rounds {args.rounds}`: ms, median (quartiles)"
    )
    print("| version | recompute | wall ms | CPU ms |")
    print("|---|---|---|---|")
    for label, measured in rounds.items():
        for name in measured[0]:
            walls = [entry[name][0] for entry in measured]
            cpus = [entry[name][1] for entry in measured]
            print(f"| {label} | {name} | {_spread(walls)} | {_spread(cpus)} |")
    _print_phases(phases)


def _print_phases(phases: dict[str, dict[str, float]]) -> None:
    if not phases:
        return
    labels = list(phases)
    print("\nShare of a recompute with new events (cProfile, cumulative; a phase may contain another)")
    print("| phase | " + " | ".join(labels) + " |")
    print("|---|" + "---|" * len(labels))
    for phase in _labels():
        print(f"| {phase} | " + " | ".join(f"{phases[label].get(phase, 0.0)}%" for label in labels) + " |")


def _spread(values: list[float]) -> str:
    low, _, high = statistics.quantiles(values, n=4) if len(values) > 1 else (values[0],) * 3
    return f"{statistics.median(values):.1f} ({low:.1f}-{high:.1f})"


if __name__ == "__main__":
    main()
