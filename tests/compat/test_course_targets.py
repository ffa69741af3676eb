"""`modelmon targets upload` on the course sender's target.csv: `id,duration` rows without a header."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from course_style import course_records, write_setup, write_target_csv

from modelmon.cli import cli
from modelmon.service.events import records_to_events
from modelmon.store import open_store


@pytest.fixture
def stored(tmp_path, monkeypatch):
    """The course setup with a store, and the events of 20 course records (their ids) stored."""
    monkeypatch.delenv("MODELMON_STORE", raising=False)
    config = write_setup(tmp_path)
    data = yaml.safe_load(config.read_text())
    data["datasets"]["taxi"]["column_mapping"]["id"] = "id"
    config.write_text(yaml.safe_dump(data))
    records = course_records("taxi", 20)
    events = [
        {key: value for key, value in event.items() if key != "target"}
        for event in records_to_events(records, _schema(config))
    ]
    with open_store(f"sqlite:///{tmp_path / 'modelmon.db'}") as store:
        store.events.add_events("taxi", events)
    return config, records


def _schema(config):
    from modelmon.config import load_config

    return load_config(config).models["taxi"].schema


def _upload(config, file):
    arguments = ["targets", "upload", "--config", str(config), "--model", "taxi", str(file)]
    return CliRunner().invoke(
        cli, arguments, env={"MODELMON_STORE": f"sqlite:///{config.parent / 'modelmon.db'}"}
    )


def _targets(config) -> dict[str, float]:
    with open_store(f"sqlite:///{config.parent / 'modelmon.db'}") as store:
        frame = pd.concat(store.events.read_frames("taxi"))
    return dict(zip(frame["id"], frame["target"], strict=True))


def test_a_headerless_two_column_csv_is_read_as_id_target_and_said_so(stored):
    config, records = stored
    file = write_target_csv(config.parent / "target.csv", records)
    assert file.read_text().splitlines()[0].count(",") == 1 and not file.read_text().startswith("id")
    result = _upload(config, file)
    assert result.exit_code == 0, result.output
    assert "read target.csv as two columns id,target without a header line" in result.output
    assert "uploaded 20 targets" in result.output
    got = _targets(config)
    assert all(got[record["id"]] == pytest.approx(record["duration"]) for record in records)


def test_a_header_naming_the_models_target_column_is_read_too(stored):
    config, records = stored
    file = config.parent / "late.csv"
    file.write_text("id,duration\n" + "".join(f"{r['id']},{r['duration'] + 1}\n" for r in records[:5]))
    result = _upload(config, file)
    assert result.exit_code == 0, result.output
    assert "the target in the model's column 'duration'" in result.output
    assert _targets(config)[records[0]["id"]] == pytest.approx(records[0]["duration"] + 1)


def test_a_header_without_id_still_names_what_is_missing(stored):
    config, _ = stored
    file = config.parent / "late.csv"
    file.write_text("ride,duration\nx,1.0\n")
    result = _upload(config, file)
    assert result.exit_code == 2 and "has no column id" in result.output
