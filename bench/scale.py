"""Wide data under a memory budget: modelmon report streaming both sides, the in-memory fit, Evidently.

    python -m bench.scale --shape 100000x200 --evidently
    python -m bench.scale --shape 200000x1000
    python -m bench.scale --shape 200000x1000 --current 3000000x1000:float32 --skip-in-memory

Each tool runs in its own fresh process on the same parquet files (``bench.wide``), timed whole
(interpreter start, imports, reading); modelmon's commands run ``--repeats`` times (default 3) and
give their median time and largest peak, Evidently (minutes a run) runs once. ``modelmon report
--sections drift`` streams both files in chunks under its default 256 MiB budget; "in-memory fit"
is the path before streaming (the whole reference read and fitted at once, ``bench.modelmon_drift
--parts none``); Evidently 0.7's ``DataDriftPreset`` runs in its own environment. Prints a
markdown table with ratios to Evidently (when it ran) and how many column decisions agree with the
in-memory fit and with Evidently.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import Measurement, evidently_python, measure, python
from bench.wide import paths


def _shape(text: str) -> tuple[int, int, str]:
    size, _, dtype = text.partition(":")
    rows, columns = (int(part) for part in size.split("x"))
    return rows, columns, dtype or "float64"


def report_command(reference: str, current: str, *extra: str) -> Measurement:
    """``modelmon report --sections drift``, its decisions read back from the JSON it wrote."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "report.json"
        command = [python(), "-m", "modelmon", "report", reference, current, "--sections", "drift", *extra]
        result = measure([*command, "--json", str(out)], output_file=out)
    columns: dict[str, Any] = result.output["drift"]["columns"]
    result.output = {
        "columns": {name: {"detected": c["detected"], "score": c["score"]} for name, c in columns.items()}
    }
    return result


def repeated(run: Callable[[], Measurement], repeats: int) -> Measurement:
    """The median wall and CPU seconds and the largest peak of ``repeats`` runs (the last run's output)."""
    runs = [run() for _ in range(max(repeats, 1))]
    return Measurement(
        statistics.median(r.seconds for r in runs),
        max(r.peak_mib for r in runs),
        runs[-1].output,
        statistics.median(r.cpu_seconds for r in runs),
    )


def _agree(left: Measurement, right: Measurement) -> str:
    ours, theirs = left.output["columns"], right.output["columns"]
    same = sum(ours[name]["detected"] == theirs[name]["detected"] for name in ours if name in theirs)
    return f"{same}/{len(ours)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", required=True, help="ROWSxCOLUMNS of the reference (and of the current)")
    parser.add_argument("--current", help="ROWSxCOLUMNS[:float32] of the current file, when it differs")
    parser.add_argument("--evidently", action="store_true", help="also run Evidently's DataDriftPreset")
    parser.add_argument("--skip-in-memory", action="store_true", help="do not run the in-memory fit")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each modelmon command (median)")
    args = parser.parse_args()
    rows, columns, dtype = _shape(args.shape)
    reference, current = (str(path) for path in paths(rows, columns, dtype))
    label = f"{rows:,} x {columns:,}"
    if args.current:
        current_rows, current_columns, current_dtype = _shape(args.current)
        current = str(paths(current_rows, current_columns, current_dtype)[1])
        label = f"{rows:,} x {columns:,} reference, {current_rows:,} x {current_columns:,} current"
    results: dict[str, Measurement] = {
        "modelmon report --sections drift (streamed)": repeated(
            lambda: report_command(reference, current), args.repeats
        )
    }
    if not args.skip_in_memory:
        command = [python(), "-m", "bench.modelmon_drift", reference, current, "--parts", "none"]
        results["in-memory fit (before streaming)"] = repeated(lambda: measure(command), args.repeats)
    if args.evidently:
        results["Evidently 0.7 DataDriftPreset"] = measure(
            [evidently_python(), "bench/evidently_drift.py", reference, current]
        )
    anchor = results.get("Evidently 0.7 DataDriftPreset")
    streamed = results["modelmon report --sections drift (streamed)"]
    in_memory = results.get("in-memory fit (before streaming)")
    print(
        "| data | tool | wall s | CPU s | peak MiB | Evidently time / tool time (wall, CPU) "
        "| tool memory / Evidently memory | decisions as in-memory fit | decisions as Evidently |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, result in results.items():
        speed = (
            f"{anchor.seconds / result.seconds:.1f}x, {anchor.cpu_seconds / result.cpu_seconds:.1f}x"
            if anchor
            else "-"
        )
        memory = f"{result.peak_mib / anchor.peak_mib:.2f}" if anchor else "-"
        same_fit = _agree(result, in_memory) if in_memory else "-"
        same_evidently = _agree(result, anchor) if anchor else "-"
        print(
            f"| {label} | {name} | {result.seconds:.2f} | {result.cpu_seconds:.2f} | {result.peak_mib:.0f} "
            f"| {speed} | {memory} "
            f"| {same_fit} | {same_evidently} |"
        )
    drifted = sum(column["detected"] for column in streamed.output["columns"].values())
    print(f"\n{drifted} of {len(streamed.output['columns'])} columns drifted (the shifted fifth).")


if __name__ == "__main__":
    main()
