"""Evidently's monitoring-service config.yaml: served as it is, and translated by `config from-evidently`."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from course_style import old_config, write_setup

from modelmon.cli import cli
from modelmon.compat.evidently_config import is_evidently_config, translate
from modelmon.config import load_config, parse_config
from modelmon.errors import ConfigError


def test_the_course_config_becomes_one_model_per_dataset_with_the_old_series():
    translation = translate(old_config(window_size=5, period=2))
    taxi, credit = translation.config["models"]["taxi"], translation.config["models"]["credit"]
    assert taxi["numerical"] == ["trip_distance"] and taxi["categorical"] == ["PULocationID", "DOLocationID"]
    assert taxi["target"] == "duration" and taxi["prediction"] == "prediction"  # the old default name
    assert taxi["task"] == "regression" and credit["task"] == "classification"  # from the monitors
    assert taxi["window"] == {"rows": 5} and taxi["refresh_seconds"] == 2
    assert taxi["compat"] == {"evidently": ["data_drift", "num_target_drift", "regression_performance"]}
    assert taxi["reference"] == "./datasets/taxi_reference.parquet"
    # each option without a counterpart is a comment naming it
    for option in ("min_reference_size", "moving_reference", "use_reference", "datasets_path"):
        assert any(comment.startswith(f"service.{option}:") for comment in translation.comments), option
    assert any(comment.startswith("datasets.taxi.data_format") for comment in translation.comments)


def test_serve_reads_the_old_file_as_it_is(tmp_path):
    config = load_config(write_setup(tmp_path))
    assert sorted(config.models) == ["credit", "taxi"]
    taxi = config.models["taxi"]
    assert taxi.compat == ("data_drift", "num_target_drift", "regression_performance")
    assert taxi.reference == tmp_path / "datasets" / "taxi_reference.parquet"
    assert taxi.window.rows == 200 and taxi.schema.target == "duration"


def test_a_dataset_without_reference_file_reads_the_old_services_datasets_folder():
    old = old_config()
    del old["datasets"]["taxi"]["reference_file"]
    model = translate(old).config["models"]["taxi"]
    assert model["reference"] == "datasets/taxi/reference.csv"


def _changed(path: str, value: Any) -> dict[str, Any]:
    old = copy.deepcopy(old_config())
    *parents, last = path.split(".")
    node = old
    for key in parents:
        node = node[key]
    node[last] = value
    return old


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        ("service.refresh_every", 3, "refresh_every"),
        ("service.moving_reference", True, "service.moving_reference"),
        ("service.use_reference", False, "service.use_reference"),
        ("datasets.taxi.monitors", ["data_drift", "data_quality"], "'data_quality'"),
        ("datasets.taxi.monitors", ["data_drift", "target_drift"], "'target_drift'"),
        ("datasets.taxi.data_format", {"separator": ";", "header": True}, "data_format.separator"),
        ("datasets.taxi.data_format", {"separator": ",", "header": False}, "data_format.header"),
        ("datasets.taxi.column_mapping.embeddings", {"e": ["a"]}, "embeddings"),
        ("datasets.taxi.sample", 10, "'sample'"),
        ("service.window_size", 0, "service.window_size"),
    ],
)
def test_an_unknown_or_unsupported_option_is_named_in_the_error(path, value, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        translate(_changed(path, value))
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        parse_config(_changed(path, value), environ={})


def test_from_evidently_prints_a_config_that_loads_the_same(tmp_path):
    path = write_setup(tmp_path)
    result = CliRunner().invoke(cli, ["config", "from-evidently", str(path)])
    assert result.exit_code == 0, result.output
    assert "# options without a modelmon counterpart:" in result.output
    assert "service.min_reference_size: 30" in result.output
    translated = yaml.safe_load(result.output)
    assert not is_evidently_config(translated)
    new = parse_config(translated, base=tmp_path, environ={})
    old = load_config(path, environ={})
    assert new.models == old.models


def test_from_evidently_stops_with_exit_code_2_naming_the_option(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(_changed("service.use_reference", False)))
    result = CliRunner().invoke(cli, ["config", "from-evidently", str(path)])
    assert result.exit_code == 2 and "service.use_reference" in result.output


def test_compat_evidently_on_a_modelmon_model_picks_the_monitors_of_its_task():
    model = {"task": "classification", "numerical": ["x"], "prediction": "p", "target": "t"}
    config = parse_config({"models": {"m": {**model, "compat": "evidently"}}}, environ={})
    assert config.models["m"].compat == ("data_drift", "cat_target_drift", "classification_performance")
    assert parse_config({"models": {"m": model}}, environ={}).models["m"].compat is None
    with pytest.raises(ConfigError, match=r"models\.m\.compat"):
        parse_config({"models": {"m": {**model, "compat": "grafana"}}}, environ={})


def test_from_evidently_writes_no_yaml_anchors_when_datasets_share_the_service_settings():
    from modelmon.compat.evidently_config import render

    text = render(translate(old_config(window_size=5, period=2)))
    assert "&id" not in text and "*id" not in text
    models = yaml.safe_load(text)["models"]
    assert models["taxi"]["window"] == models["credit"]["window"] == {"rows": 5}


def test_legitimate_old_keys_are_translated_or_commented_not_refused():
    old = copy.deepcopy(old_config())
    mapping = old["datasets"]["credit"]["column_mapping"]
    mapping["pos_label"] = "bad"
    mapping["text_features"] = ["comment"]
    old["datasets"]["taxi"]["data_format"] = {"separator": ",", "header": True, "date_column": "pickup"}
    translation = translate(old)
    credit, taxi = translation.config["models"]["credit"], translation.config["models"]["taxi"]
    assert credit["positive_class"] == "bad" and taxi["timestamp"] == "pickup"
    assert any("column_mapping.text_features: no counterpart" in comment for comment in translation.comments)
    assert parse_config(translation.config, environ={}).models["credit"].schema.positive_class == "bad"


def test_the_february_2022_layout_is_one_model_named_default():
    old = {
        "data_format": {"separator": ",", "header": True, "date_column": "dteday"},
        "column_mapping": {
            "target": "cnt",
            "prediction": "prediction",
            "numerical_features": ["temp", "hum"],
            "categorical_features": ["season"],
        },
        "service": {
            "reference_path": "./reference.csv",
            "min_reference_size": 30,
            "use_reference": True,
            "moving_reference": False,
            "window_size": 30,
            "calculation_period_sec": 10,
            "monitors": ["data_drift", "regression_performance"],
        },
    }
    assert is_evidently_config(old)
    (name, model), *others = translate(old).config["models"].items()
    assert name == "default" and others == []
    assert model["reference"] == "./reference.csv" and model["timestamp"] == "dteday"
    assert model["numerical"] == ["temp", "hum"] and model["window"] == {"rows": 30}
    assert model["compat"] == {"evidently": ["data_drift", "regression_performance"]}
    assert model["task"] == "regression"


def test_a_task_that_contradicts_the_monitors_is_an_error_not_silence():
    old = _changed("datasets.credit.column_mapping.task", "regression")
    with pytest.raises(
        ConfigError, match=r"datasets\.credit\.column_mapping\.task: 'regression'.*classification"
    ):
        translate(old)


def test_a_dataset_with_only_data_drift_gets_its_task_from_the_reference_labels(tmp_path):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    pd.DataFrame({"x": rng.normal(size=100), "repaid": rng.integers(0, 2, 100)}).to_csv(
        tmp_path / "credit.csv", index=False
    )
    pd.DataFrame({"x": rng.normal(size=100), "cnt": rng.integers(0, 900, 100)}).to_csv(
        tmp_path / "bikes.csv", index=False
    )
    old = {
        "datasets": {
            name: {
                "column_mapping": {"numerical_features": ["x"], "target": target},
                "monitors": ["data_drift"],
                "reference_file": f"{name}.csv",
            }
            for name, target in (("credit", "repaid"), ("bikes", "cnt"))
        },
        "service": {"window_size": 50},
    }
    config = parse_config(old, base=tmp_path, environ={})
    assert config.models["credit"].schema.task == "classification"
    assert config.models["credit"].schema.kind("repaid") == "categorical"
    assert config.models["bikes"].schema.task == "regression"  # many integer values: a quantity
    comments = translate(old, tmp_path).comments
    assert "datasets.credit: task classification, told from the reference's 'repaid' values" in comments
