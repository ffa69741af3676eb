"""The full modelmon report (every section that applies, SHAP on a sample, the HTML page) beside
Evidently's DataDriftPreset alone and its DataDriftPreset + DataSummaryPreset with the HTML page,
on 1M demo taxi trips; then each section of modelmon's report on its own.

    python -m bench.full_report [--rows 1000000] [--repeats 3] [--skip-evidently] [--skip-sections]
                                [--anchor COMMIT]

The data is written once to ``bench/data/`` (not timed): a reference of demo taxi trips and a
current set with an incident from its middle on (trip distances shifted by one standard deviation,
fares following them, and 30% of fares missing), both scored by the demo model, which is trained
on its own draw of 50k trips. modelmon builds every section with the model (so SHAP runs on a
sample) and writes its HTML page; Evidently gets the same drifted columns (features, prediction
and target) declared numerical or categorical as in the demo config. Each tool runs in its own
fresh process, the tools in turn within each repeat (so a busy machine slows them alike); wall
time, CPU seconds (user + system) and peak memory are measured from outside, and the median of the
repeats is shown. On a loaded machine compare CPU seconds: wall time also counts the waits for a core.

``--anchor COMMIT`` runs modelmon of that commit too (from a temporary worktree of it, first on
``PYTHONPATH``), in turn with this checkout's, in the full report and in every section row, so a
change is measured against the code before it in the same minutes.

The section rows run ``build_report(..., sections=[NAME])`` for each section alone (reading both
files and building only the profile parts that section reads), so a section that grows shows up
against its guard: the CPU seconds of its own work (its computation and its profile parts, timed
per thread inside the process, so load does not move them much) are marked ``GREW`` above
:data:`SECTION_GUARDS` (twice what this command measured, see bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.datasets import DATA_DIR
from bench.harness import ROOT, Measurement, evidently_python, measure, python

if TYPE_CHECKING:
    from modelmon.schema import Schema

TRAIN_ROWS = 50_000


def write_data(rows: int, train_rows: int = TRAIN_ROWS) -> tuple[Path, Path, Path]:
    """(reference, current, model) paths for a size, written when missing."""
    from modelmon.demo import incidents, models
    from modelmon.demo.data import taxi_trips

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    reference = DATA_DIR / f"taxi_reference_{rows}.parquet"
    current = DATA_DIR / f"taxi_current_{rows}.parquet"
    model_path = DATA_DIR / f"taxi_model_{train_rows}.pkl"
    if not model_path.exists():
        trips = taxi_trips(train_rows, seed=100, id_prefix="train-")
        models.save_model(models.train_taxi_model(trips), model_path)
    model = models.load_model(model_path)
    if not reference.exists():
        frame = taxi_trips(rows, seed=0, id_prefix="ref-")
        models.predict_frame(model, frame, "regression").to_parquet(reference, index=False)
    if not current.exists():
        frame = taxi_trips(rows, seed=1, start="2026-02-01", id_prefix="cur-")
        middle = rows // 2
        shifted = incidents.covariate_shift(frame, ["trip_distance"], at=middle, shift=1.0, seed=1)
        shifted["fare_amount"] = shifted["fare_amount"] + 2.5 * (
            shifted["trip_distance"] - frame["trip_distance"]
        )
        shifted = incidents.missing_spike(shifted, ["fare_amount"], at=middle, share=0.3, seed=1)
        models.predict_frame(model, shifted, "regression").to_parquet(current, index=False)
    return reference, current, model_path


def taxi_schema() -> Schema:
    """The demo taxi model's schema, segmented by pickup zone."""
    from modelmon.demo import models
    from modelmon.schema import Schema

    return Schema(
        task="regression",
        numerical=models.TAXI_NUMERICAL,
        categorical=models.TAXI_CATEGORICAL,
        prediction=models.TAXI_PREDICTION,
        target=models.TAXI_TARGET,
        id=models.TAXI_ID,
        timestamp=models.TAXI_TIMESTAMP,
        segments=["PULocationID"],
    )


def schema_columns() -> tuple[list[str], list[str]]:
    """(numerical, categorical) drift columns: the demo features, prediction and target."""
    from modelmon.demo import models

    return [*models.TAXI_NUMERICAL, models.TAXI_PREDICTION, models.TAXI_TARGET], list(models.TAXI_CATEGORICAL)


#: CPU seconds of each section's own work alone on 1M rows (``--rows 1000000``): its computation and
#: the fitting and building of the profile parts it reads, not the reading and column profiles every
#: section shares (the drift-only benchmarks guard those); twice the figures recorded in
#: bench/RESULTS.md, at least half a second
SECTION_GUARDS = {
    "drift": 0.5,
    "quality": 0.5,
    "performance": 0.5,
    "segments": 1.4,
    "fairness": 0.5,
    "outliers": 1.2,
    "explain": 1.4,
    "concept": 0.5,
    "multivariate": 1.4,
}
FULL = "modelmon full report (all sections, SHAP on a sample, HTML)"
DRIFT_ALONE = "Evidently 0.7 DataDriftPreset alone"
EVIDENTLY_FULL = "Evidently 0.7 DataDriftPreset + DataSummaryPreset, HTML"


def _timed(spent: dict[str, float], key: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*arguments: Any) -> Any:
        started = time.thread_time()  # this thread's: parts may be built on several threads at once
        try:
            return function(*arguments)
        finally:
            spent[key] = spent.get(key, 0.0) + time.thread_time() - started

    return timed


@contextlib.contextmanager
def _section_timers() -> Iterator[Callable[[], dict[str, float]]]:
    """While it lasts, each section's own work is timed; the function it gives reads the CPU
    seconds so far: the section's computation and the fit and build of the profile parts it
    declares. The registry and the parts are as they were afterwards."""
    import modelmon.sections as registry
    from modelmon.engine.parts import PART_TYPES

    spent: dict[str, float] = {}
    sections = registry.REGISTRY
    methods = {
        (part, method): part.__dict__.get(method)
        for part in PART_TYPES.values()
        for method in ("fit", "build")
    }
    for name, part in PART_TYPES.items():
        for method in ("fit", "build"):
            setattr(part, method, staticmethod(_timed(spent, f"part {name}", getattr(part, method))))
    registry.REGISTRY = tuple(
        dataclasses.replace(section, compute=_timed(spent, section.name, section.compute))
        for section in sections
    )
    keys = {section.name: (section.name, *(f"part {part}" for part in section.parts)) for section in sections}
    try:
        yield lambda: {name: sum(spent.get(key, 0.0) for key in own) for name, own in keys.items()}
    finally:
        registry.REGISTRY = sections
        for (part, method), original in methods.items():
            if original is None:  # inherited: the base class's is found again
                delattr(part, method)
            else:
                setattr(part, method, original)


def child(reference: str, current: str, model_path: str, sections: str, html: str) -> None:
    """The timed modelmon side: ``build_report`` with the model (``none``: no model) and every
    section (``all``) or one, then its HTML page (``none``: no page). Besides wall seconds it
    prints the CPU seconds of the report and each section's own (:func:`_section_timers`)."""
    started = time.perf_counter()
    from modelmon.engine.build import build_report

    schema = taxi_schema()
    imported = time.perf_counter()
    model = None if model_path == "none" else model_path
    chosen = None if sections == "all" else sections.split(",")
    with _section_timers() as own_cpu:
        cpu = time.process_time()
        built = build_report(reference, current, schema, model=model, sections=chosen)
        cpu = time.process_time() - cpu
        section_cpu = own_cpu()
    finished = time.perf_counter()
    if html != "none":
        built.save_html(html)
    written = time.perf_counter()
    report = built.to_dict()
    ran = [
        name
        for name, section in report.items()
        if isinstance(section, dict) and section.get("applicable", True)
    ]
    drift = report.get("drift", {}).get("columns", {})
    print(
        json.dumps(
            {
                "import_seconds": imported - started,
                "report_seconds": finished - imported,
                "html_seconds": written - finished,
                "report_cpu_seconds": cpu,
                "section_cpu_seconds": section_cpu,
                "sections": ran,
                "drifted": sorted(name for name, column in drift.items() if column["detected"]),
            }
        )
    )


def _modelmon(reference: str, current: str, model_path: str, sections: str, folder: str) -> list[str]:
    html = str(Path(folder) / "modelmon.html") if sections == "all" else "none"
    return [python(), "-m", "bench.full_report", "--child", reference, current, model_path, sections, html]


def _anchor_source(commit: str, folder: str) -> Path:
    """The ``src`` of a temporary worktree of ``commit`` (its bytecode compiled once)."""
    tree = Path(folder) / "anchor"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), commit], check=True
    )
    subprocess.run(
        [python(), "-m", "compileall", "-q", str(tree / "src")], check=True, stdout=subprocess.DEVNULL
    )
    return tree / "src"


def _median(runs: list[Measurement]) -> Measurement:
    """The run of median wall time (its own peak and output), with the median CPU seconds."""
    ordered = sorted(runs, key=lambda run: run.seconds)
    middle = ordered[len(ordered) // 2]
    return Measurement(
        statistics.median(run.seconds for run in runs),
        middle.peak_mib,
        middle.output,
        statistics.median(run.cpu_seconds for run in runs),
    )


def _versions(anchor: tuple[str, Path] | None) -> dict[str, dict[str, str] | None]:
    """Label suffix -> environment of each modelmon version run: this checkout, then the anchor."""
    versions: dict[str, dict[str, str] | None] = {"": None}
    if anchor is not None:
        versions[f" at {anchor[0]}"] = {"PYTHONPATH": str(anchor[1])}
    return versions


def compare(
    rows: int, repeats: int, skip_evidently: bool, folder: str, anchor: tuple[str, Path] | None = None
) -> dict[str, Measurement]:
    """The full report (of this checkout and the anchor) and Evidently's presets, in turn within
    each repeat; medians."""
    reference, current, model_path = (str(path) for path in write_data(rows))
    numerical, categorical = (",".join(names) for names in schema_columns())
    command = _modelmon(reference, current, model_path, "all", folder)
    commands = {FULL + suffix: (command, env) for suffix, env in _versions(anchor).items()}
    if not skip_evidently:
        evidently = evidently_python()
        drift = [evidently, "bench/evidently_drift.py", reference, current, numerical, categorical]
        commands[DRIFT_ALONE] = (drift, None)
        page = str(Path(folder) / "evidently.html")
        full = [evidently, "bench/evidently_full.py", reference, current, numerical, categorical, page]
        commands[EVIDENTLY_FULL] = (full, None)
    runs: dict[str, list[Measurement]] = {label: [] for label in commands}
    for _ in range(repeats):
        for label, (command, env) in commands.items():
            runs[label].append(measure(command, env=env))
    return {label: _median(results) for label, results in runs.items()}


def sections_alone(
    rows: int, repeats: int, folder: str, anchor: tuple[str, Path] | None = None
) -> dict[str, Measurement]:
    """Each section of the report on its own (with the model), of this checkout and the anchor,
    in turn within each repeat."""
    reference, current, model_path = (str(path) for path in write_data(rows))
    versions = _versions(anchor)
    runs: dict[str, list[Measurement]] = {name + suffix: [] for name in SECTION_GUARDS for suffix in versions}
    for _ in range(repeats):
        for name in SECTION_GUARDS:
            for suffix, env in versions.items():
                command = _modelmon(reference, current, model_path, name, folder)
                runs[name + suffix].append(measure(command, env=env))
    return {name: _median(results) for name, results in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--skip-sections", action="store_true")
    parser.add_argument("--anchor", metavar="COMMIT", help="also run modelmon of this commit, in turn")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as folder:
        anchor = (args.anchor, _anchor_source(args.anchor, folder)) if args.anchor else None
        try:
            results = compare(args.rows, args.repeats, args.skip_evidently, folder, anchor)
            alone = {} if args.skip_sections else sections_alone(args.rows, args.repeats, folder, anchor)
        finally:
            if anchor is not None:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(anchor[1].parent)]
                )
    print(f"median of {args.repeats} runs, tools in turn within each run\n")
    print("| rows | tool | wall s | CPU s | peak MiB | tool time / modelmon time (wall, CPU) |")
    print("|---|---|---|---|---|---|")
    ours = results[FULL]
    for label, result in results.items():
        print(
            f"| {args.rows:,} | {label} | {result.seconds:.1f} | {result.cpu_seconds:.1f} "
            f"| {result.peak_mib:.0f} "
            f"| {result.seconds / ours.seconds:.2f}x, {result.cpu_seconds / ours.cpu_seconds:.2f}x |"
        )
    print(f"\nmodelmon sections computed: {', '.join(ours.output['sections'])}")
    print(f"modelmon drifted columns: {', '.join(ours.output['drifted']) or 'none'}")
    if DRIFT_ALONE in results:
        theirs = sorted(
            name for name, column in results[DRIFT_ALONE].output["columns"].items() if column["detected"]
        )
        print(f"Evidently drifted columns: {', '.join(theirs) or 'none'}")
    if alone:
        print(
            "\n| section alone | wall s | process CPU s | report CPU s | its own CPU s | peak MiB "
            "| guard CPU s | |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for name, result in alone.items():
            section = name.split(" at ")[0]
            guard, mine = SECTION_GUARDS[section], result.output["section_cpu_seconds"][section]
            print(
                f"| {name} | {result.seconds:.1f} | {result.cpu_seconds:.1f} "
                f"| {result.output['report_cpu_seconds']:.1f} | {mine:.2f} | {result.peak_mib:.0f} "
                f"| {guard:.1f} | {'GREW' if mine > guard else 'ok'} |"
            )


if __name__ == "__main__":
    main()
