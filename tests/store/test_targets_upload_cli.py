"""``modelmon targets upload``: CSV and parquet files of id,target joined to stored events."""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest
from click.testing import CliRunner

from modelmon.cli.targets import targets
from modelmon.store import open_store


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.delenv("MODELMON_STORE", raising=False)
    path = tmp_path / "modelmon.yml"
    path.write_text(
        textwrap.dedent(
            f"""
            store: sqlite:///{tmp_path / "modelmon.db"}
            models:
              taxi:
                task: regression
                numerical: [trip_distance]
                prediction: duration
            """
        )
    )
    with open_store(f"sqlite:///{tmp_path / 'modelmon.db'}") as store:
        store.events.add_events("taxi", [{"id": i, "features": {"trip_distance": 1.0}} for i in range(1, 5)])
    return path


def stored_targets(config) -> dict[str, object]:
    with open_store(f"sqlite:///{config.parent / 'modelmon.db'}") as store:
        frame = pd.concat(store.events.read_frames("taxi"))
    return dict(zip(frame["id"], frame["target"], strict=True))


def upload(config, file, model: str = "taxi"):
    return CliRunner().invoke(targets, ["upload", "--config", str(config), "--model", model, str(file)])


def test_upload_csv_joins_targets_and_skips_empty_ones(config) -> None:
    file = config.parent / "late.csv"
    file.write_text("id,target,comment\n1,10.5,a\n3,,b\n99,7.0,c\n")
    result = upload(config, file)
    assert result.exit_code == 0, result.output
    assert "uploaded 2 targets of model 'taxi'" in result.output
    assert "1 rows without a target skipped" in result.output
    got = stored_targets(config)
    assert got["1"] == 10.5 and pd.isna(got["3"]) and pd.isna(got["2"])


def test_upload_parquet_and_upload_again_replaces(config) -> None:
    file = config.parent / "late.parquet"
    pd.DataFrame({"id": [2, 4], "target": [20.0, 40.0]}).to_parquet(file)
    assert upload(config, file).exit_code == 0
    pd.DataFrame({"id": [4], "target": [44.0]}).to_parquet(file)
    assert upload(config, file).exit_code == 0
    got = stored_targets(config)
    assert (got["2"], got["4"]) == (20.0, 44.0)


def test_missing_column_names_the_file(config) -> None:
    file = config.parent / "late.csv"
    file.write_text("ride_id,target\n1,2\n")
    result = upload(config, file)
    assert result.exit_code == 2
    assert f"{file} has no column id; it needs id and target" in result.output


def test_unknown_model_and_unknown_file_type(config) -> None:
    file = config.parent / "late.csv"
    file.write_text("id,target\n1,2\n")
    result = upload(config, file, model="bikes")
    assert result.exit_code == 2 and "model 'bikes' is not in the config" in result.output
    other = config.parent / "late.xlsx"
    other.write_text("")
    result = upload(config, other)
    assert result.exit_code == 2 and "unknown file type '.xlsx'" in result.output


def test_unreadable_file_is_named(config) -> None:
    result = upload(config, config.parent / "absent.csv")
    assert (
        result.exit_code == 2
        and "cannot read targets from" in result.output
        and "absent.csv" in result.output
    )
