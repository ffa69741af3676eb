"""Drift: modelmon's profiles against Evidently 0.7's DataDriftPreset and per-column scipy.

    python -m bench.drift_vs_evidently --rows 200000 1000000 [--skip-evidently]

Same parquet files, each tool in its own fresh process (wall time includes interpreter start,
imports and reading the files, for every tool alike), in one run. Prints a markdown table of wall
time and peak memory with ratios to Evidently, then each column's score and decision per tool.

modelmon runs four ways: the command ``modelmon report --sections drift --json OUT`` (schema
inferred, summary printed, report JSON written), the drift section alone through the Python API
(column profiles only: the same work as the preset), the drift section with the default profile
(which also fits and scores the outlier section's IsolationForest), and the whole report (every
section that applies).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
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


def run(rows: int, with_evidently: bool) -> tuple[list[str], list[str]]:
    """Table lines and per-column decision lines for one size."""
    reference, current = (str(path) for path in paths(rows))
    results: dict[str, Measurement] = {COMMAND: _command(reference, current)}
    for label, flags in MODELMON.items():
        results[label] = measure([python(), "-m", "bench.modelmon_drift", reference, current, *flags])
    results["scipy per column (raw rows)"] = measure(
        [python(), "-m", "bench.scipy_drift", reference, current]
    )
    if with_evidently:
        results["Evidently 0.7 DataDriftPreset"] = measure(
            [evidently_python(), "bench/evidently_drift.py", reference, current]
        )
    anchor = results.get("Evidently 0.7 DataDriftPreset")
    table = []
    for label, result in results.items():
        speed = f"{anchor.seconds / result.seconds:.1f}x" if anchor else "-"
        memory = f"{result.peak_mib / anchor.peak_mib:.2f}" if anchor else "-"
        table.append(
            f"| {rows:,} | {label} | {result.seconds:.2f} | {_work(result)} | {result.peak_mib:.0f} "
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
    args = parser.parse_args()
    tools = [COMMAND, *MODELMON, "scipy per column (raw rows)"]
    tools += [] if args.skip_evidently else ["Evidently 0.7"]
    print(
        "| rows | tool | wall s | in-process s | peak MiB | Evidently time / tool time "
        "| tool memory / Evidently memory |"
    )
    print("|---|---|---|---|---|---|---|")
    details = []
    for rows in args.rows:
        table, detail = run(rows, not args.skip_evidently)
        print("\n".join(table), flush=True)
        details += detail
    print()
    print(f"| rows | column | method | {' | '.join(tools)} | all agree |")
    print("|---|---|---|" + "---|" * len(tools) + "---|")
    print("\n".join(details))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
