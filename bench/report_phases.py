"""Where a ``modelmon report --sections drift`` spends its time, phase by phase, in one process.

    python -m bench.report_phases bench/data/wide_reference_100000x200.parquet \\
        bench/data/wide_current_100000x200.parquet

Runs the steps the command runs (the files warmed, numpy and pandas imported, the schema inferred,
the reference fitted, the current file read and profiled, the drift section, its JSON) and prints
the seconds of each, ``--repeats`` times in fresh processes. Interpreter start and the command
line's own parsing are not in it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.harness import measure, python
from modelmon.reading.sizes import DEFAULT_MEMORY_BUDGET, parse_bytes


def phases(reference: Path, current: Path, budget: int) -> dict[str, float]:
    """Seconds of each phase, in this (fresh) process."""
    marks: list[tuple[str, float]] = []
    start = time.perf_counter()
    from modelmon.cli import process

    process.own()  # this process is the command's stand-in: it tunes itself as the command does
    process.prepare_report((reference, current), head_bytes=budget)
    import modelmon.engine.build as build
    import modelmon.engine.sides as sides
    from modelmon.reading.plan import ReadPlan

    marks.append(("import numpy, pandas and the engine", time.perf_counter()))
    plan = ReadPlan(budget)
    schema = plan.schema_for(reference)
    marks.append(("infer the schema", time.perf_counter()))
    side = build.fit_reference(reference, schema, sections=("drift",), memory_budget=budget)
    marks.append(("read and fit the reference", time.perf_counter()))
    current_side = sides.CurrentSide(side, seed=1)
    chunks = list(plan.chunks_ahead(current, sides.wanted_columns(schema)))
    marks.append(("read the current file", time.perf_counter()))
    for chunk in chunks:
        current_side.update(chunk)
    marks.append(("profile the current file", time.perf_counter()))
    report = current_side.report(sections=("drift",))
    marks.append(("drift tests", time.perf_counter()))
    with tempfile.TemporaryDirectory() as folder:
        report.save_json(Path(folder) / "report.json")
    marks.append(("write the JSON", time.perf_counter()))
    seconds, previous = {}, start
    for name, moment in marks:
        seconds[name], previous = moment - previous, moment
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("reference", type=Path)
    parser.add_argument("current", type=Path)
    parser.add_argument("--memory-budget", default=DEFAULT_MEMORY_BUDGET, help="as the command's (256MiB)")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(phases(args.reference, args.current, parse_bytes(args.memory_budget))))
        return
    command = [python(), "-m", "bench.report_phases", str(args.reference), str(args.current)]
    command += ["--memory-budget", str(args.memory_budget), "--child"]
    runs = [measure(command).output for _ in range(max(args.repeats, 1))]
    print("| phase | " + " | ".join(f"run {i + 1} s" for i in range(len(runs))) + " |")
    print("|---|" + "---|" * len(runs))
    for name in runs[0]:
        print(f"| {name} | " + " | ".join(f"{run[name]:.3f}" for run in runs) + " |")
    totals = [sum(run.values()) for run in runs]
    print("| total | " + " | ".join(f"{total:.3f}" for total in totals) + " |")


if __name__ == "__main__":
    main()
