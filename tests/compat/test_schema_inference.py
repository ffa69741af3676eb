"""Schema inference on raw files like the course's trip data: zone ids are codes, and the guess is printed."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from click.testing import CliRunner
from course_style import taxi_rides

from modelmon.cli.report import report
from modelmon.schema import Schema


def test_integer_codes_are_inferred_categorical_and_quantities_numerical():
    rides = taxi_rides(3000, seed=0).drop(columns=["ehail_fee", "pickup_time"])
    rides["VendorID"] = np.random.default_rng(0).integers(1, 3, len(rides))
    rides["zip_code"] = np.random.default_rng(1).integers(10000, 10999, len(rides))
    rides["credit_months"] = np.random.default_rng(2).integers(0, 400, len(rides))
    schema = Schema.infer(rides, prediction="model_duration", target="duration")
    for code in ("PULocationID", "DOLocationID", "VendorID", "zip_code", "passenger_count"):
        assert code in schema.categorical, code
    for quantity in ("trip_distance", "fare_amount", "credit_months"):
        assert quantity in schema.numerical, quantity


def test_report_prints_the_inferred_schema_on_stderr(tmp_path):
    rides = taxi_rides(600, seed=0)[["trip_distance", "PULocationID", "duration"]]
    reference, current = tmp_path / "reference.parquet", tmp_path / "current.parquet"
    rides.to_parquet(reference)
    taxi_rides(300, seed=1)[rides.columns].to_parquet(current)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        report, [str(reference), str(current), "--target", "duration", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "Inferred schema" in result.stderr and "Inferred schema" not in result.stdout
    assert "  numerical: [trip_distance]" in result.stderr
    assert "  categorical: [PULocationID]" in result.stderr
    assert json.loads(out.read_text())["drift"]["columns"]["PULocationID"]["kind"] == "categorical"
    assert pd.read_parquet(reference).shape == (600, 3)
