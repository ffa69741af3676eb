"""Evidently's drift and data summary presets with their HTML page, on two parquet files; runs in
Evidently's own environment.

    python bench/evidently_full.py REFERENCE CURRENT NUMERICAL,... CATEGORICAL,... OUT.html

What a user of Evidently runs for a report comparable to modelmon's full report without a model:
``Report([DataDriftPreset(), DataSummaryPreset()])`` on the same columns, then ``save_html``.
Prints one JSON line: the seconds of each step and the page's size. Evidently 0.7 needs
pandas < 3, so this runs under ``bench/.venv-evidently`` (see bench/harness.py).
"""

from __future__ import annotations

import json
import os
import sys
import time

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset, DataSummaryPreset


def main(
    reference_path: str, current_path: str, numerical_names: str, categorical_names: str, html: str
) -> None:
    started = time.perf_counter()
    numerical = [name for name in numerical_names.split(",") if name]
    categorical = [name for name in categorical_names.split(",") if name]
    reference = pd.read_parquet(reference_path, columns=numerical + categorical)
    current = pd.read_parquet(current_path, columns=numerical + categorical)
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    loaded = time.perf_counter()
    snapshot = Report([DataDriftPreset(), DataSummaryPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    computed = time.perf_counter()
    snapshot.save_html(html)
    finished = time.perf_counter()
    print(
        json.dumps(
            {
                "load_seconds": loaded - started,
                "report_seconds": computed - loaded,
                "html_seconds": finished - computed,
                "html_bytes": os.path.getsize(html),
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:6])
