"""Where the time and memory of modelmon's drift section go, stage by stage, at one size.

    python -m bench.drift_stages --rows 1000000 [--cprofile 15]

The same work as ``bench.modelmon_drift --parts none`` (column profiles only, then the drift
tests), in one process, timing each stage and reading the resident memory after it (VmRSS) and
the peak so far (VmHWM). ``--cprofile N`` runs it again under cProfile and prints the N functions
with the most time of their own (cProfile's overhead inflates small calls; read it for shares).
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import cProfile  # noqa: E402
import io  # noqa: E402
import pstats  # noqa: E402

from bench.datasets import drift_schema, paths  # noqa: E402
from modelmon.config import DriftSettings  # noqa: E402
from modelmon.engine.drift import data_drift  # noqa: E402
from modelmon.engine.profile import ProfileSpec  # noqa: E402
from modelmon.reading.files import read_frame, read_frames  # noqa: E402

IMPORTED = time.perf_counter()


def memory() -> tuple[float, float]:
    """(current, peak) resident MiB of this process."""
    values = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line[:5]] = int(line.split()[1]) / 1024
    return values["VmRSS"], values["VmHWM"]


Stage = tuple[str, float, float, float]


def stages(reference_path: str, current_path: str, chunk_rows: int) -> list[Stage]:
    """(name, seconds, resident MiB after, peak MiB so far) of each stage."""
    timings: list[Stage] = []

    def mark(name: str, seconds: float) -> None:
        timings.append((name, seconds, *memory()))

    clock = time.perf_counter()
    reference = read_frame(reference_path)
    mark("read the reference (parquet -> pandas)", time.perf_counter() - clock)
    schema = drift_schema(reference.columns)
    clock = time.perf_counter()
    spec, reference_profile = ProfileSpec.fit_profile(reference, schema, parts=())
    mark("fit the spec and profile the reference (sampled edges, counted cells)", time.perf_counter() - clock)
    del reference
    reading = 0.0
    clock = time.perf_counter()
    chunks = read_frames(current_path, chunk_rows=chunk_rows)
    current = spec.empty()
    while True:
        started = time.perf_counter()
        chunk = next(chunks, None)
        reading += time.perf_counter() - started
        if chunk is None:
            break
        current = current + spec.profile(chunk)
    total = time.perf_counter() - clock
    mark(f"read the current in chunks of {chunk_rows:,}", reading)
    mark("profile the current chunks and add them up", total - reading)
    clock = time.perf_counter()
    data_drift(reference_profile, current, DriftSettings())
    mark("drift tests on the two profiles", time.perf_counter() - clock)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=250_000)
    parser.add_argument("--cprofile", type=int, default=0, metavar="N")
    args = parser.parse_args()
    reference, current = (str(path) for path in paths(args.rows))
    imports = IMPORTED - STARTED
    timings = [("imports (numpy, pandas, pyarrow, modelmon)", imports, *memory())]
    timings += stages(reference, current, args.chunk_rows)
    total = sum(seconds for _, seconds, _, _ in timings)
    print(f"| stage ({args.rows:,} rows each side) | seconds | share | RSS after, MiB | peak so far, MiB |")
    print("|---|---|---|---|---|")
    for name, seconds, rss, peak in timings:
        print(f"| {name} | {seconds:.2f} | {seconds / total:.0%} | {rss:.0f} | {peak:.0f} |")
    print(f"| total | {total:.2f} | 100% | | |")
    if args.cprofile:
        profiler = cProfile.Profile()
        profiler.runcall(stages, reference, current, args.chunk_rows)
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(args.cprofile)
        print("\n```\n" + text.getvalue().strip() + "\n```")


if __name__ == "__main__":
    main()
