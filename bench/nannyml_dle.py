"""NannyML's DLE (direct loss estimation) on two parquet files; runs in NannyML's own environment.

    python bench/nannyml_dle.py REFERENCE CURRENT FEATURES PREDICTION TARGET

Prints one JSON line: seconds spent and NannyML's estimated MAE and RMSE of CURRENT (one chunk
holding all its rows), fitted on REFERENCE with NannyML's defaults (LightGBM, no tuning).
NannyML 0.13 needs pandas < 3, so this script runs under ``bench/.venv-nannyml`` (see
bench/harness.py); ``NML_DISABLE_USAGE_LOGGING=1`` keeps it from sending usage statistics.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")

import nannyml as nml
import pandas as pd


def main(reference_path: str, current_path: str, features: str, prediction: str, target: str) -> None:
    started = time.perf_counter()
    reference, current = pd.read_parquet(reference_path), pd.read_parquet(current_path)
    for frame in (reference, current):  # NannyML reads object columns as categorical features
        for name in frame.columns:
            if frame[name].dtype == object:
                frame[name] = frame[name].astype("category")
    estimator = nml.DLE(
        feature_column_names=features.split(","),
        y_pred=prediction,
        y_true=target,
        metrics=["mae", "rmse"],
        chunk_number=1,
    )
    estimator.fit(reference)
    results = estimator.estimate(current.drop(columns=[target], errors="ignore")).filter(period="analysis")
    table = results.to_df()
    if len(table) != 1:
        raise SystemExit(f"expected one analysis chunk, NannyML made {len(table)}")
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - started,
                "mae": float(table[("mae", "value")].iloc[0]),
                "rmse": float(table[("rmse", "value")].iloc[0]),
                "version": nml.__version__,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
