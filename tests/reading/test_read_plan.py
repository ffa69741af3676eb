"""The read plan: one way of chunking and inferring a schema for the Python API, the CLI and Dask."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from modelmon.cli.report import report
from modelmon.engine.build import build_report
from modelmon.errors import InputError, SchemaError
from modelmon.reading.files import read_frames
from modelmon.reading.plan import ReadPlan, check_current, exact_rows, total_rows
from modelmon.schema import Schema


def _frame(n: int = 3_000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "fare": rng.normal(20, 4, n),
            "hour": rng.integers(0, 4, n),  # few integers: a code, told from its values
            "age": rng.integers(18, 90, n),
            "zone": rng.choice(["a", "b"], n),
            "tip": rng.lognormal(0, 1, n),
            "label": rng.integers(0, 2, n).astype(float),  # a float label: its values tell the task
            "ride": [f"r{i}" for i in range(n)],  # id-like: every value distinct
        }
    )


@pytest.mark.parametrize("target", [None, "label"])
def test_inferring_from_a_parquet_head_without_its_floats_gives_the_whole_chunks_schema(tmp_path, target):
    path = tmp_path / "reference.parquet"
    _frame().to_parquet(path, row_group_size=1_000)
    inferred = ReadPlan(chunk_rows=1_000).schema_for(path, target=target)
    whole = Schema.infer(next(iter(read_frames(path, chunk_rows=1_000))), target=target, exclude=["ride"])
    assert inferred == whole
    assert inferred.numerical[0] == "fare" and ("label" in inferred.numerical) == (target is None)
    assert inferred.task == ("classification" if target else "regression") and "hour" in inferred.categorical


def test_the_python_api_and_the_command_infer_one_schema(tmp_path):
    reference, current = tmp_path / "reference.parquet", tmp_path / "current.parquet"
    _frame().to_parquet(reference, row_group_size=1_000)
    _frame(seed=4).to_parquet(current)
    planned = ReadPlan().schema_for(reference)
    assert build_report(reference, current, sections=("quality",)).schema == planned
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        report, [str(reference), str(current), "--sections", "quality", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["schema"] == planned.to_dict()
    assert "ride" not in planned.named_columns and "hour" in planned.categorical


def test_a_frame_is_inferred_from_its_first_chunk_as_a_file_is():
    frame = pd.DataFrame({"name": [f"n{i % 200}" for i in range(400)], "x": np.arange(400) / 7})
    # the first 200 rows hold every name once (ids there); the whole frame repeats them
    assert ReadPlan(chunk_rows=200).infer_schema(frame).categorical == ()
    assert ReadPlan(chunk_rows=400).infer_schema(frame).categorical == ("name",)


def test_chunks_follow_the_rows_asked_or_the_budget(tmp_path):
    frame = _frame(1_000)
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    assert [len(chunk) for chunk in ReadPlan(chunk_rows=400).chunks(path, ["fare"])] == [400, 400, 200]
    assert list(next(ReadPlan(chunk_rows=400).chunks(path, ["fare"])).columns) == ["fare"]
    assert sum(len(chunk) for chunk in ReadPlan(memory_budget=64 << 10).chunks_ahead(frame)) == 1_000
    assert len(next(ReadPlan(memory_budget=64 << 10).chunks(frame))) < 1_000
    assert (total_rows(path), exact_rows(path), exact_rows(frame)) == (1_000, None, 1_000)


def test_a_plan_of_no_rows_a_chunk_is_refused_naming_the_value():
    with pytest.raises(InputError, match="chunk_rows must be a positive number of rows, got 0"):
        ReadPlan(chunk_rows=0)
    with pytest.raises(InputError, match="chunk_rows"):
        build_report(_frame(10), _frame(10), chunk_rows=0)


def test_current_data_without_a_schema_column_names_it(tmp_path):
    schema = Schema(numerical=["fare"], categorical=["zone"])
    path = tmp_path / "current.parquet"
    _frame(10).drop(columns=["zone"]).to_parquet(path)
    with pytest.raises(
        SchemaError, match=r"the current data \(.*current.parquet\) has no column\(s\) 'zone'"
    ):
        check_current(path, schema)
    check_current(_frame(10), schema)


def test_a_config_schema_takes_the_given_roles_and_its_columns_are_checked(tmp_path):
    configured = Schema(numerical=["fare"], categorical=["zone"])
    plan = ReadPlan()
    assert plan.schema_for(_frame(10), configured, categorical=["hour"]).categorical == ("hour",)
    assert plan.schema_for(_frame(10), configured, target="label").target == "label"
    with pytest.raises(SchemaError, match="tipp"):
        plan.schema_for(_frame(10), configured, numerical=["tipp"])
