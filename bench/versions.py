"""Two or more commits of modelmon on the same command, their runs interleaved.

    python -m bench.versions c992fd1 HEAD --runs 10
    python -m bench.versions c992fd1 HEAD --runs 10 -- report REFERENCE CURRENT --sections drift

On a shared machine a run's time moves by a fifth from minute to minute; a change of a few percent
shows only when both versions run in the same minutes. Each commit is checked out into a temporary
worktree (its bytecode compiled once, as an installed package has it) and run as ``python -m
modelmon`` with that worktree first on ``PYTHONPATH``, against this checkout's environment; the
commits take turns, ``--runs`` times each. Prints, per commit, the median, lowest and first-quartile
wall seconds, the median page faults and the mean user and system CPU seconds (from ``wait4``).
The default command is the #12 goal's: ``report --sections drift`` on the 100k x 200 files of
``bench.wide`` (generated on first use).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import ROOT, python


def _worktree(commit: str, folder: Path) -> Path:
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(folder), commit], check=True
    )
    subprocess.run(
        [python(), "-m", "compileall", "-q", str(folder / "src")], check=True, stdout=subprocess.DEVNULL
    )
    return folder / "src"


def _run(source: Path, arguments: list[str]) -> tuple[float, int, float, float]:
    """Wall seconds, minor page faults, user and system seconds of one run."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    command = [python(), "-m", "modelmon", *arguments]
    subprocess.run(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (
        wall,
        after.ru_minflt - before.ru_minflt,
        after.ru_utime - before.ru_utime,
        after.ru_stime - before.ru_stime,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("commits", nargs="+", help="commits to compare (anything git rev-parse takes)")
    parser.add_argument("--runs", type=int, default=10, help="runs of each commit")
    parser.epilog = "-- then the arguments of modelmon to run (default: the #12 drift report)"
    given = sys.argv[1:]
    split = given.index("--") if "--" in given else len(given)
    args = parser.parse_args(given[:split])
    arguments = given[split + 1 :]  # after --: the modelmon arguments
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "report.json"
        if not arguments:
            from bench.wide import paths

            files = [str(path.relative_to(ROOT)) for path in paths(100_000, 200, "float64")]
            arguments = ["report", *files, "--sections", "drift", "--json", str(output)]
        sources = {}
        try:
            for number, commit in enumerate(args.commits):
                sources[commit] = _worktree(commit, Path(folder) / f"v{number}")
            runs: dict[str, list[tuple[float, int, float, float]]] = {commit: [] for commit in args.commits}
            for _ in range(args.runs):
                for commit, source in sources.items():
                    runs[commit].append(_run(source, arguments))
        finally:
            for source in sources.values():
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(source.parent)])
    shown = [part if part != str(output) else "report.json" for part in arguments]
    print(f"`python -m modelmon {' '.join(shown)}`, {args.runs} runs each, interleaved")
    print("| commit | median s | lowest s | first quartile s | page faults | user s | system s |")
    print("|---|---|---|---|---|---|---|")
    for commit, measured in runs.items():
        walls = [run[0] for run in measured]
        quartile = statistics.quantiles(walls, n=4)[0] if len(walls) > 1 else walls[0]
        print(
            f"| {commit} | {statistics.median(walls):.3f} | {min(walls):.3f} | {quartile:.3f} "
            f"| {statistics.median(run[1] for run in measured) / 1000:.0f}k "
            f"| {statistics.mean(run[2] for run in measured):.2f} "
            f"| {statistics.mean(run[3] for run in measured):.2f} |"
        )


if __name__ == "__main__":
    main()
