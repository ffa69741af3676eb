from __future__ import annotations

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import modelmon.cli
from modelmon.config import load_config
from modelmon.demo import models
from modelmon.demo.files import CREDIT_MODEL_NAME, TAXI_MODEL_NAME, write_demo_files

ROWS = 2000
DATA_FILES = [
    f"{dataset}_{part}.parquet"
    for dataset in ("taxi", "credit")
    for part in ("reference", "current", "current_clean")
]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    config_path = write_demo_files(folder, rows=ROWS, seed=0)
    assert config_path == folder / "modelmon.yml"
    return folder


def test_writes_loadable_files(demo_dir):
    for name in DATA_FILES:
        frame = pd.read_parquet(demo_dir / name)
        assert len(frame) == ROWS, name
    for name in ("taxi_model.pkl", "credit_model.pkl"):
        assert hasattr(models.load_model(demo_dir / name), "predict")


def test_config_parses_with_the_documented_keys(demo_dir):
    raw = yaml.safe_load((demo_dir / "modelmon.yml").read_text())
    assert raw["store"] == "sqlite:///modelmon.db"
    taxi, credit = raw["models"][TAXI_MODEL_NAME], raw["models"][CREDIT_MODEL_NAME]
    assert taxi["reference"] == "taxi_reference.parquet" and taxi["model_file"] == "taxi_model.pkl"
    assert taxi["window"] == {"rows": 1000} and taxi["refresh_seconds"] == 5
    assert taxi["segments"] == ["PULocationID"] and taxi["sensitive"] == []
    assert credit["segments"] == ["region"] and credit["sensitive"] == ["gender"]
    config = load_config(demo_dir / "modelmon.yml")
    for name, model in config.models.items():
        assert model.reference is not None and model.reference.is_file(), name
        assert model.model_file is not None and model.model_file.is_file(), name
        frame = pd.read_parquet(model.reference)
        assert model.schema.check(frame.columns)["missing"] == [], name


def test_current_files_carry_their_incidents_from_the_middle(demo_dir):
    middle = ROWS // 2
    taxi_reference = pd.read_parquet(demo_dir / "taxi_reference.parquet")
    taxi_current = pd.read_parquet(demo_dir / "taxi_current.parquet")
    taxi_clean = pd.read_parquet(demo_dir / "taxi_current_clean.parquet")
    assert taxi_current["fare_amount"][:middle].notna().all()
    assert taxi_current["fare_amount"][middle:].isna().mean() == pytest.approx(0.3, abs=0.01)
    reference_distance = taxi_reference["trip_distance"].mean()
    assert taxi_current["trip_distance"][middle:].mean() > 1.5 * reference_distance
    assert taxi_clean["trip_distance"].mean() == pytest.approx(reference_distance, rel=0.1)
    assert taxi_current["pickup_time"].min() > taxi_reference["pickup_time"].max()

    credit_clean = pd.read_parquet(demo_dir / "credit_current_clean.parquet")
    credit_current = pd.read_parquet(demo_dir / "credit_current.parquet")
    approval = credit_current[middle:].groupby("gender")["prediction"].mean()
    clean_approval = credit_clean.groupby("gender")["prediction"].mean()
    assert approval["male"] - approval["female"] > 0.2
    assert abs(clean_approval["male"] - clean_approval["female"]) < 0.06


def test_same_seed_writes_the_same_data(demo_dir, tmp_path):
    write_demo_files(tmp_path, rows=ROWS, seed=0)
    for name in DATA_FILES:
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / name), pd.read_parquet(demo_dir / name))


def test_cli_demo_data(tmp_path):
    runner = CliRunner()
    result = runner.invoke(modelmon.cli.cli, ["demo-data", "--out", str(tmp_path / "out"), "--rows", "500"])
    assert result.exit_code == 0, result.output
    assert "modelmon.yml" in result.output
    assert len(pd.read_parquet(tmp_path / "out" / "credit_current.parquet")) == 500
    assert (
        load_config(tmp_path / "out" / "modelmon.yml").models[TAXI_MODEL_NAME].schema.target
        == "duration_actual"
    )
    help_result = runner.invoke(modelmon.cli.cli, ["demo-data", "--help"])
    assert help_result.exit_code == 0 and "--seed" in help_result.output
    too_few = runner.invoke(modelmon.cli.cli, ["demo-data", "--out", str(tmp_path / "x"), "--rows", "5"])
    assert too_few.exit_code == 2 and "--rows" in too_few.output
