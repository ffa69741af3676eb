"""Wide files as pandas writes them (one row group): ``modelmon report --sections drift`` of two
commits, peak memory and time, and their drift decisions side by side.

    python -m bench.wide_layout BEFORE AFTER [--rows 200000] [--columns 1000] [--runs 1] [--layout quarters]

The files are ``bench.wide --layout pandas`` (``DataFrame.to_parquet()`` with its defaults: one
row group of 200k rows, 1.6 GB of floats a file; ``--layout quarters``: four row groups of 400 MB).
Each commit runs from a temporary worktree
(as ``bench.versions`` does) under the default 256 MiB budget; the commits take turns. Peak
memory is the process's own high-water mark (``bench.harness.measure``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
from pathlib import Path

from bench.harness import ROOT, measure, python
from bench.versions import _worktree
from bench.wide import paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("commits", nargs="+")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--columns", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--layout", choices=["pandas", "quarters"], default="pandas")
    args = parser.parse_args()
    reference, current = paths(args.rows, args.columns, layout=args.layout)
    results: dict[str, list[tuple[float, float]]] = {commit: [] for commit in args.commits}
    decisions: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as folder:
        sources = {}
        try:
            for number, commit in enumerate(args.commits):
                sources[commit] = _worktree(commit, Path(folder) / f"v{number}")
            for _ in range(args.runs):
                for commit, source in sources.items():
                    report = Path(folder) / f"{commit}.json"
                    command = [python(), "-m", "modelmon", "report", str(reference), str(current)]
                    command += ["--sections", "drift", "--json", str(report)]
                    run = measure(command, env={"PYTHONPATH": str(source)}, output_file=report)
                    results[commit].append((run.seconds, run.peak_mib))
                    columns = run.output["drift"]["columns"]
                    decisions[commit] = sorted(name for name, column in columns.items() if column["detected"])
        finally:
            for source in sources.values():
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(source.parent)])
    groups = "one row group" if args.layout == "pandas" else "four row groups"
    print(f"{args.rows:,} x {args.columns:,} floats, {groups} a file, --sections drift, 256 MiB budget\n")
    print("| commit | wall s (median) | peak MiB (median) | drifted columns |")
    print("|---|---|---|---|")
    for commit, runs in results.items():
        seconds = statistics.median(run[0] for run in runs)
        peak = statistics.median(run[1] for run in runs)
        print(f"| {commit} | {seconds:.1f} | {peak:.0f} | {len(decisions[commit])} |")
    same = len({json.dumps(names) for names in decisions.values()}) == 1
    print(f"\nsame drift decisions: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
