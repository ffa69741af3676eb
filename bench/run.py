"""Run every benchmark in sequence and print their tables (what ``make bench`` runs).

    python -m bench.run            # the sizes bench/RESULTS.md reports (takes a while)
    python -m bench.run --quick    # small sizes, a few minutes, for a quick look
    python -m bench.run --skip-evidently

Each benchmark is its own module and can be run alone with the command printed above its table.
The machine's load is printed before each one: compare only runs made on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from bench.harness import ROOT

FULL = [
    ["bench.drift_vs_evidently", "--rows", "200000", "1000000"],
    ["bench.profile_10m"],
    ["bench.full_report", "--rows", "1000000"],
    ["bench.online"],
    ["bench.batch_store", "--rows", "1000000"],
    ["bench.dle_vs_nannyml", "--rows", "20000"],
]
QUICK = [
    ["bench.drift_vs_evidently", "--rows", "20000"],
    ["bench.profile_10m", "--rows", "500000"],
    ["bench.full_report", "--rows", "20000"],
    [
        "bench.online",
        "--events",
        "20000",
        "--requests",
        "2000",
        "--predictions",
        "500",
        "--window-rows",
        "20000",
    ],
    ["bench.batch_store", "--rows", "20000", "--chunk-rows", "5000"],
    ["bench.dle_vs_nannyml", "--rows", "5000", "--seeds", "0"],
]
#: benchmarks that run Evidently, and the flag that leaves it out
EVIDENTLY = {"bench.drift_vs_evidently", "bench.full_report"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--skip-evidently", action="store_true", help="do not run Evidently")
    args = parser.parse_args()
    for command in QUICK if args.quick else FULL:
        if args.skip_evidently and command[0] in EVIDENTLY:
            command = [*command, "--skip-evidently"]
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(
            f"\n## python -m {' '.join(command)}\n\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
            f"{os.cpu_count()} cpus, load average {load}\n",
            flush=True,
        )
        subprocess.run([sys.executable, "-m", *command], cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
