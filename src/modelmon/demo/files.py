"""Write the demo's data files, trained models and a ready monitoring config into one folder.

The folder holds, for each demo model, a reference file (scored by the model), a current file with
incidents injected from its middle row on, and a clean current file drawn from the same distribution as
the reference (a control: a report on it should find nothing). ``modelmon.yml`` points at all of it
with paths relative to itself, so the folder can be moved.

Incidents in the current files:

- taxi: trips get longer (covariate shift on ``trip_distance``; fares and durations follow, as they
  would for real longer trips), and 30% of ``fare_amount`` goes missing (the model, which never saw a
  missing fare, badly underestimates those trips);
- credit: P(repaid) drops by 0.3 for women (bias), and repayment starts to depend on other features
  (concept change), so the model's performance falls while its inputs look the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from modelmon.demo import incidents, models
from modelmon.demo.data import credit_applications, taxi_expected_duration, taxi_trips

__all__ = ["CONFIG_NAME", "CREDIT_MODEL_NAME", "TAXI_MODEL_NAME", "demo_config", "write_demo_files"]

CONFIG_NAME = "modelmon.yml"
TAXI_MODEL_NAME = "taxi-duration"
CREDIT_MODEL_NAME = "credit-approval"
_START = pd.Timestamp("2026-01-01")
_FREQ_SECONDS = 1.0
_HEADER = """\
# modelmon demo config, written by `modelmon demo-data`.
# Try: modelmon report taxi_reference.parquet taxi_current.parquet --config modelmon.yml \\
#        --model taxi-duration --html taxi_report.html
#      modelmon serve --config modelmon.yml
"""


def demo_config() -> dict[str, Any]:
    """The monitoring config of the demo folder, as plain data (paths relative to the folder).

    >>> sorted(demo_config()["models"])
    ['credit-approval', 'taxi-duration']
    """
    taxi = {
        "task": "regression",
        "reference": "taxi_reference.parquet",
        "numerical": list(models.TAXI_NUMERICAL),
        "categorical": list(models.TAXI_CATEGORICAL),
        "prediction": models.TAXI_PREDICTION,
        "target": models.TAXI_TARGET,
        "id": models.TAXI_ID,
        "timestamp": models.TAXI_TIMESTAMP,
        "segments": ["PULocationID"],
        "sensitive": [],
        "window": {"rows": 1000},
        "refresh_seconds": 5,
        "model_file": "taxi_model.pkl",
    }
    credit = {
        "task": "classification",
        "reference": "credit_reference.parquet",
        "numerical": list(models.CREDIT_NUMERICAL),
        "categorical": list(models.CREDIT_CATEGORICAL),
        "prediction": models.CREDIT_PREDICTION,
        "probabilities": [models.CREDIT_PROBA],
        "target": models.CREDIT_TARGET,
        "id": models.CREDIT_ID,
        "timestamp": models.CREDIT_TIMESTAMP,
        "segments": ["region"],
        "sensitive": ["gender"],
        "window": {"rows": 1000},
        "refresh_seconds": 5,
        "model_file": "credit_model.pkl",
    }
    return {
        "store": "sqlite:///modelmon.db",
        "reports_dir": "reports",
        "auth_token": None,
        "models": {TAXI_MODEL_NAME: taxi, CREDIT_MODEL_NAME: credit},
    }


def _taxi_incidents(current: pd.DataFrame, middle: int, seed: int) -> pd.DataFrame:
    shifted = incidents.covariate_shift(current, ["trip_distance"], at=middle, shift=1.0, seed=seed)
    # Longer trips cost more and take longer: fares and durations follow the new distances (each trip
    # keeps its own noise), so this is a change of inputs only, not of the concept.
    extra_miles = shifted["trip_distance"] - current["trip_distance"]
    expected, old_expected = taxi_expected_duration(shifted), taxi_expected_duration(current)
    shifted["fare_amount"] = np.round(
        current["fare_amount"] + 2.5 * extra_miles + 0.25 * (expected - old_expected), 2
    )
    shifted["duration_actual"] = np.round(
        np.clip(current["duration_actual"] * expected / old_expected, 1.0, 180.0), 2
    )
    return incidents.missing_spike(shifted, ["fare_amount"], at=middle, share=0.3, seed=seed)


def _credit_incidents(current: pd.DataFrame, middle: int, seed: int) -> pd.DataFrame:
    biased = incidents.bias(current, "gender", "female", at=middle, drop=0.3)
    return incidents.concept_change(biased, at=middle, seed=seed)


def write_demo_files(out_dir: str | Path, rows: int = 20_000, seed: int = 0) -> Path:
    """Write the demo folder and return the path of its config.

    Each model trains on its own draw (not on the reference), so reference metrics are honest.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    current_start = str(_START + pd.Timedelta(seconds=rows * _FREQ_SECONDS))
    middle = rows // 2

    taxi_model = models.train_taxi_model(taxi_trips(rows, seed=seed + 100, id_prefix=f"taxi-train-{seed}-"))
    taxi = {
        "reference": taxi_trips(rows, seed=seed, start=str(_START), id_prefix=f"taxi-ref-{seed}-"),
        "current": _taxi_incidents(
            taxi_trips(rows, seed=seed + 1, start=current_start, id_prefix=f"taxi-cur-{seed}-"), middle, seed
        ),
        "current_clean": taxi_trips(
            rows, seed=seed + 2, start=current_start, id_prefix=f"taxi-clean-{seed}-"
        ),
    }
    for name, frame in taxi.items():
        models.predict_frame(taxi_model, frame, "regression").to_parquet(folder / f"taxi_{name}.parquet")
    models.save_model(taxi_model, folder / "taxi_model.pkl")

    train = credit_applications(rows, seed=seed + 100, id_prefix=f"credit-train-{seed}-")
    credit_model = models.train_credit_model(train)
    credit = {
        "reference": credit_applications(
            rows, seed=seed + 10, start=str(_START), id_prefix=f"credit-ref-{seed}-"
        ),
        "current": credit_applications(
            rows, seed=seed + 11, start=current_start, id_prefix=f"credit-cur-{seed}-"
        ),
        "current_clean": credit_applications(
            rows, seed=seed + 12, start=current_start, id_prefix=f"credit-clean-{seed}-"
        ),
    }
    for name, frame in credit.items():
        scored = models.predict_frame(credit_model, frame, "classification")
        # Incidents on predictions must come after scoring, or the model would overwrite them.
        if name == "current":
            scored = _credit_incidents(scored, middle, seed)
        scored.to_parquet(folder / f"credit_{name}.parquet")
    models.save_model(credit_model, folder / "credit_model.pkl")

    config_path = folder / CONFIG_NAME
    config_path.write_text(_HEADER + yaml.safe_dump(demo_config(), sort_keys=False))
    return config_path
