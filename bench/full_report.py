"""The full modelmon report (every section that applies, SHAP on a sample) beside Evidently's drift
preset alone, on 1M demo taxi trips.

    python -m bench.full_report [--rows 1000000] [--skip-evidently]

The data is written once to ``bench/data/`` (not timed): a reference of demo taxi trips and a
current set with an incident from its middle on (trip distances shifted by one standard deviation,
fares following them, and 30% of fares missing), both scored by the demo model, which is trained
on its own draw of 50k trips. modelmon builds every section with the model (so SHAP runs on a
sample); Evidently's DataDriftPreset gets the same drifted columns (features, prediction and
target) declared numerical or categorical as in the demo config. Each tool runs in its own fresh
process; wall time and peak memory are measured from outside.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench.datasets import DATA_DIR
from bench.harness import Measurement, evidently_python, measure, python

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


def child(reference: str, current: str, model_path: str) -> None:
    """The timed modelmon side: ``build_report`` with every section and the model (``none``: no model)."""
    started = time.perf_counter()
    from modelmon.engine.build import build_report

    schema = taxi_schema()
    imported = time.perf_counter()
    model = None if model_path == "none" else model_path
    report = build_report(reference, current, schema, model=model).to_dict()
    finished = time.perf_counter()
    ran = [
        name
        for name, section in report.items()
        if isinstance(section, dict) and section.get("applicable", True)
    ]
    drift = report["drift"]["columns"]
    print(
        json.dumps(
            {
                "import_seconds": imported - started,
                "report_seconds": finished - imported,
                "sections": ran,
                "drifted": sorted(name for name, column in drift.items() if column["detected"]),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    reference, current, model_path = (str(path) for path in write_data(args.rows))
    results: dict[str, Measurement] = {
        "modelmon full report (all sections, SHAP on a sample)": measure(
            [python(), "-m", "bench.full_report", "--child", reference, current, model_path]
        )
    }
    if not args.skip_evidently:
        numerical, categorical = schema_columns()
        results["Evidently 0.7 DataDriftPreset alone"] = measure(
            [
                evidently_python(),
                "bench/evidently_drift.py",
                reference,
                current,
                ",".join(numerical),
                ",".join(categorical),
            ]
        )
    anchor = results.get("Evidently 0.7 DataDriftPreset alone")
    print("| rows | tool | wall s | peak MiB | Evidently time / tool time | tool memory / Evidently memory |")
    print("|---|---|---|---|---|---|")
    for label, result in results.items():
        speed = f"{anchor.seconds / result.seconds:.2f}x" if anchor else "-"
        memory = f"{result.peak_mib / anchor.peak_mib:.2f}" if anchor else "-"
        print(
            f"| {args.rows:,} | {label} | {result.seconds:.1f} | {result.peak_mib:.0f} | {speed} | {memory} |"
        )
    ours = results["modelmon full report (all sections, SHAP on a sample)"].output
    print(f"\nmodelmon sections computed: {', '.join(ours['sections'])}")
    print(f"modelmon drifted columns: {', '.join(ours['drifted']) or 'none'}")
    if anchor:
        theirs = sorted(name for name, column in anchor.output["columns"].items() if column["detected"])
        print(f"Evidently drifted columns: {', '.join(theirs) or 'none'}")


if __name__ == "__main__":
    main()
