"""Evidently's drift preset on two parquet files; runs in Evidently's own environment.

    python bench/evidently_drift.py REFERENCE CURRENT [NUMERICAL,... [CATEGORICAL,...]]

Prints one JSON line: seconds spent and, per column, the drift decision, score and test.
Evidently 0.7 needs pandas < 3, so this script runs under ``bench/.venv-evidently`` (see
bench/harness.py). The per-column decisions are read from the ``ValueDrift`` metrics of the
snapshot (``value`` is the score, ``config`` holds method and threshold) and checked against the
snapshot's own ``DriftedColumnsCount``, so a misread snapshot fails loudly instead of disagreeing.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset


def decisions(snapshot: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Per-column decisions from the ValueDrift metrics, and the snapshot's drifted-column count."""
    columns = {}
    drifted_count = float("nan")
    for metric in snapshot["metrics"]:
        config = metric.get("config", {})
        kind = config.get("type", "")
        if kind.endswith(":DriftedColumnsCount"):
            drifted_count = float(metric["value"]["count"])
        if not kind.endswith(":ValueDrift"):
            continue
        score, threshold, method = float(metric["value"]), float(config["threshold"]), config["method"]
        # p-value tests drift below the threshold, distances at or above it
        detected = score < threshold if "p_value" in method else score >= threshold
        columns[config["column"]] = {
            "score": score,
            "method": method,
            "threshold": threshold,
            "detected": detected,
        }
    parsed = sum(column["detected"] for column in columns.values())
    if parsed != drifted_count:
        raise SystemExit(
            f"read {parsed} drifted columns, the snapshot says {drifted_count}: snapshot misread"
        )
    return columns, drifted_count


def main(
    reference_path: str, current_path: str, numerical_names: str = "", categorical_names: str = ""
) -> None:
    """Columns are the comma-separated names given, else those named ``num_*`` and ``cat_*``."""
    started = time.perf_counter()
    numerical = [name for name in numerical_names.split(",") if name]
    categorical = [name for name in categorical_names.split(",") if name]
    wanted = (numerical + categorical) or None
    reference = pd.read_parquet(reference_path, columns=wanted)
    current = pd.read_parquet(current_path, columns=wanted)
    numerical = numerical or [c for c in reference.columns if c.startswith("num_")]
    categorical = categorical or [c for c in reference.columns if c.startswith("cat_")]
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    loaded = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    columns, drifted_count = decisions(snapshot.dict())
    finished = time.perf_counter()
    print(
        json.dumps(
            {
                "load_seconds": loaded - started,
                "drift_seconds": finished - loaded,
                "drifted_count": drifted_count,
                "columns": columns,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:5])
