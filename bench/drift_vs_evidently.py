"""Drift: modelmon's profiles against Evidently 0.7's DataDriftPreset and per-column scipy.

    python -m bench.drift_vs_evidently --rows 200000 1000000 [--repeat 3] [--skip-evidently]

Same parquet files, each tool in its own fresh process (wall time includes interpreter start,
imports and reading the files, for every tool alike), in one run: each tool runs ``--repeat``
times, in turn with the others, and the tables give its median wall time and median peak memory.
Prints a markdown table of wall time and peak memory with ratios to Evidently, then each column's
score and decision per tool.

modelmon runs four ways: the command ``modelmon report --sections drift --json OUT`` (schema
inferred, summary printed, report JSON written), the drift section alone through the Python API
(column profiles only: the same work as the preset), the drift section with the default profile
(which also fits and scores the outlier section's IsolationForest), and the whole report (every
section that applies).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.datasets import paths
from bench.harness import Measurement, evidently_python, measure, python

MODELMON = {
    "modelmon drift section (column profiles)": ["--parts", "none"],
    "modelmon drift, default profile (+ outlier part)": [],
    "modelmon full report (all sections)": ["--report"],
}


COMMAND = "modelmon report --sections drift (command line)"


def _work(result: Measurement) -> str:
    """Seconds the tool spent reading and computing, as it timed itself (no interpreter start or imports)."""
    if "drift_seconds" not in result.output:
        return "-"
    return f"{float(result.output.get('load_seconds', 0.0)) + float(result.output['drift_seconds']):.2f}"


def _command(reference: str, current: str) -> Measurement:
    """``modelmon report`` itself, its drift columns read back from the JSON report it wrote."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "report.json"
        command = [python(), "-m", "modelmon", "report", reference, current, "--sections", "drift"]
        result = measure([*command, "--json", str(out)], output_file=out)
    columns: dict[str, Any] = result.output["drift"]["columns"]
    keys = ("score", "method", "threshold", "detected")
    result.output = {"columns": {name: {key: c[key] for key in keys} for name, c in columns.items()}}
    return result


def _cell(column: dict[str, object]) -> str:
    return f"{column['score']:.4f} {'drift' if column['detected'] else '-'}"


def _median(runs: list[Measurement]) -> Measurement:
    """The median wall time and the median peak memory of ``runs``; the output of the first.

    Every run of a tool must decide the same for every column (the data and seeds are fixed).
    """
    for other in runs[1:]:
        decided = {name: column["detected"] for name, column in other.output["columns"].items()}
        if decided != {name: column["detected"] for name, column in runs[0].output["columns"].items()}:
            raise RuntimeError("two runs of one tool decided differently on the same data")
    return Measurement(
        statistics.median(run.seconds for run in runs),
        statistics.median(run.peak_mib for run in runs),
        runs[0].output,
        statistics.median(run.cpu_seconds for run in runs),
    )


def run(rows: int, with_evidently: bool, repeat: int = 1) -> tuple[list[str], list[str]]:
    """Table lines and per-column decision lines for one size, each tool's median of ``repeat`` runs.

    The runs go round the tools in turn, so that the machine's slower moments fall on all alike.
    """
    reference, current = (str(path) for path in paths(rows))
    tools: dict[str, Callable[[], Measurement]] = {COMMAND: lambda: _command(reference, current)}
    for label, flags in MODELMON.items():
        command = [python(), "-m", "bench.modelmon_drift", reference, current, *flags]
        tools[label] = lambda command=command: measure(command)
    tools["scipy per column (raw rows)"] = lambda: measure(
        [python(), "-m", "bench.scipy_drift", reference, current]
    )
    if with_evidently:
        evidently = [evidently_python(), "bench/evidently_drift.py", reference, current]
        tools["Evidently 0.7 DataDriftPreset"] = lambda: measure(evidently)
    runs: dict[str, list[Measurement]] = {label: [] for label in tools}
    for _ in range(repeat):
        for label, tool in tools.items():
            runs[label].append(tool())
    results = {label: _median(measured) for label, measured in runs.items()}
    anchor = results.get("Evidently 0.7 DataDriftPreset")
    table = []
    for label, result in results.items():
        speed = (
            f"{anchor.seconds / result.seconds:.1f}x, {anchor.cpu_seconds / result.cpu_seconds:.1f}x"
            if anchor
            else "-"
        )
        memory = f"{result.peak_mib / anchor.peak_mib:.2f}" if anchor else "-"
        table.append(
            f"| {rows:,} | {label} | {result.seconds:.2f} | {result.cpu_seconds:.2f} | {_work(result)} "
            f"| {result.peak_mib:.0f} "
            f"| {speed} | {memory} |"
        )
    detail = []
    columns = results["modelmon drift section (column profiles)"].output["columns"]
    for name, ours in columns.items():
        cells = [_cell(r.output["columns"][name]) for r in results.values()]
        agree = all(r.output["columns"][name]["detected"] == ours["detected"] for r in results.values())
        detail.append(
            f"| {rows:,} | {name} | {ours['method']} | {' | '.join(cells)} | {'yes' if agree else 'NO'} |"
        )
    return table, detail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--skip-evidently", action="store_true", help="run modelmon and scipy only")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each tool; the tables give the median (default 3)"
    )
    args = parser.parse_args()
    tools = [COMMAND, *MODELMON, "scipy per column (raw rows)"]
    tools += [] if args.skip_evidently else ["Evidently 0.7"]
    print(
        "| rows | tool | wall s | CPU s | in-process s | peak MiB | Evidently time / tool time (wall, CPU) "
        "| tool memory / Evidently memory |"
    )
    print("|---|---|---|---|---|---|---|---|")
    details = []
    for rows in args.rows:
        table, detail = run(rows, not args.skip_evidently, args.repeat)
        print("\n".join(table), flush=True)
        details += detail
    print()
    print(f"| rows | column | method | {' | '.join(tools)} | all agree |")
    print("|---|---|---|" + "---|" * len(tools) + "---|")
    print("\n".join(details))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
