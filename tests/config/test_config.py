"""The monitoring config: the settings that bound what traffic can do to a window."""

from __future__ import annotations

import pytest

from modelmon.config import FUTURE_TOLERANCE_SECONDS, parse_config
from modelmon.errors import ConfigError, SchemaError


def test_the_future_tolerance_has_a_stated_default_and_can_be_set():
    assert parse_config({}).ingest.future_tolerance_seconds == FUTURE_TOLERANCE_SECONDS == 300
    config = parse_config({"ingest": {"future_tolerance_seconds": 30}})
    assert config.ingest.future_tolerance_seconds == 30


@pytest.mark.parametrize("value", [-1, "300", True, float("nan"), float("inf")])
def test_a_future_tolerance_that_is_not_a_number_of_seconds_is_refused_naming_the_key(value):
    with pytest.raises(ConfigError, match=r"ingest\.future_tolerance_seconds: expected a number of seconds"):
        parse_config({"ingest": {"future_tolerance_seconds": value}})


def _model(**settings):
    model = {"task": "regression", "numerical": ["x"], "prediction": "y", **settings}
    return parse_config({"models": {"m": model}}, environ={}).models["m"]


def test_the_resend_horizon_is_at_least_200k_ids_twice_a_larger_window_or_as_set():
    assert _model().resend_horizon == 200_000
    assert _model(window={"rows": 300_000}).resend_horizon == 600_000
    assert _model(window={"rows": 5_000_000}).resend_horizon == 1_000_000
    assert _model(window={"seconds": 86400}).resend_horizon == 200_000
    assert _model(dedup_ids=5000).resend_horizon == 5000


@pytest.mark.parametrize("key", ["dedup_ids", "max_awaiting_target"])
@pytest.mark.parametrize("value", [-1, 1.5, "10", True])
def test_a_count_that_is_not_a_whole_number_is_refused_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=rf"models\.m\.{key}: expected a whole number >= 0"):
        _model(**{key: value})


def test_a_column_the_reference_lacks_is_refused_naming_the_key_and_the_closest_name():
    model = {"reference": "ref.csv", "numerical": ["bmi"]}
    config = parse_config(
        {
            "models": {
                "m": {**model, "target": "progresion", "id": "rid"},
                "old": {**model, "target": "target", "compat": "evidently"},
                "own": {**model, "target": "label", "compat": "evidently"},
            }
        }
    )
    columns = ["bmi", "progression", "pred"]
    with pytest.raises(SchemaError, match=r"target 'progresion': models\.m\.reference .*'progression'\?"):
        config.models["m"].check_reference_columns(columns)
    # the events bring the id; an Evidently config's default target may be absent, as the old service allowed
    config.models["m"].check_reference_columns([*columns, "progresion"])
    config.models["old"].check_reference_columns(columns)
    with pytest.raises(SchemaError, match=r"target 'label'"):
        config.models["own"].check_reference_columns(columns)
    with pytest.raises(SchemaError, match=r"numerical 'bmi': a list<element: double> column"):
        config.models["m"].check_reference_columns([*columns, "progresion"], {"bmi": "list<element: double>"})
