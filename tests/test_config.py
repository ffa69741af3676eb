"""The monitoring config: the settings that bound what traffic can do to a window."""

from __future__ import annotations

import pytest

from modelmon.config import FUTURE_TOLERANCE_SECONDS, parse_config
from modelmon.errors import ConfigError


def test_the_future_tolerance_has_a_stated_default_and_can_be_set():
    assert parse_config({}).ingest.future_tolerance_seconds == FUTURE_TOLERANCE_SECONDS == 300
    config = parse_config({"ingest": {"future_tolerance_seconds": 30}})
    assert config.ingest.future_tolerance_seconds == 30


@pytest.mark.parametrize("value", [-1, "300", True, float("nan"), float("inf")])
def test_a_future_tolerance_that_is_not_a_number_of_seconds_is_refused_naming_the_key(value):
    with pytest.raises(ConfigError, match=r"ingest\.future_tolerance_seconds: expected a number of seconds"):
        parse_config({"ingest": {"future_tolerance_seconds": value}})
