"""The ``shards:`` section of the config: each model owned by exactly one shard at a HOST:PORT address."""

from __future__ import annotations

from typing import Any

import pytest

from modelmon.config import parse_config
from modelmon.config.shards import Shard
from modelmon.errors import ConfigError

MODEL = {"task": "regression", "numerical": ["x"], "prediction": "y"}


def _config(shards: Any, models: tuple[str, ...] = ("taxi-duration", "churn", "fraud")):
    return parse_config({"models": {name: MODEL for name in models}, "shards": shards}, environ={})


def test_shards_are_parsed_in_the_config_order_with_host_and_port() -> None:
    config = _config(
        {
            "monitor-a": {"address": "127.0.0.1:8086", "models": ["taxi-duration", "churn"]},
            "monitor-b": {"address": "[::1]:8087", "models": ["fraud"]},
        }
    )
    assert list(config.shards) == ["monitor-a", "monitor-b"]
    assert config.shard("monitor-a") == Shard("monitor-a", "127.0.0.1", 8086, ("taxi-duration", "churn"))
    assert (config.shards["monitor-b"].host, config.shards["monitor-b"].port) == ("::1", 8087)
    assert config.shards["monitor-b"].address == "[::1]:8087"


def test_a_host_name_address_is_kept_for_the_proxy_to_resolve() -> None:
    config = _config({"monitor-a": {"address": "monitor_a.internal:8086", "models": ["fraud"]}}, ("fraud",))
    assert config.shards["monitor-a"].address == "monitor_a.internal:8086"


@pytest.mark.parametrize("shards", [None, {}])
def test_without_shards_the_config_has_none(shards: Any) -> None:
    config = _config(shards)
    assert config.shards == {}
    with pytest.raises(ConfigError, match="shard 'monitor-a': the config has no shards: section"):
        config.shard("monitor-a")


def test_an_unknown_shard_name_lists_the_known_ones() -> None:
    config = _config({"a": {"address": "127.0.0.1:8086", "models": ["fraud"]}}, ("fraud",))
    with pytest.raises(ConfigError, match=r"shard 'b' is not in the config \(its shards: a\)"):
        config.shard("b")


A = "127.0.0.1:8086"
B = "127.0.0.1:8087"
ALL = ["taxi-duration", "churn", "fraud"]


@pytest.mark.parametrize(
    ("shards", "message"),
    [
        (["monitor-a"], r"shards: expected a mapping of shard name"),
        ({"monitor a": {"address": A, "models": ALL}}, r"shards\.monitor a: a shard name may hold only"),
        ({"a": "127.0.0.1:8086"}, r"shards\.a: expected \{address: HOST:PORT, models"),
        ({"a": {"address": A, "models": ALL, "weight": 2}}, r"shards\.a: unknown keys \['weight'\]"),
        ({"a": {"address": A}}, r"shards\.a: \['models'\] missing"),
        ({"a": {"models": ALL}}, r"shards\.a: \['address'\] missing"),
        ({"a": {"address": "127.0.0.1", "models": ALL}}, r"shards\.a\.address: expected HOST:PORT"),
        ({"a": {"address": "127.0.0.1:0", "models": ALL}}, r"shards\.a\.address: .* from 1 to 65535"),
        ({"a": {"address": "127.0.0.1:70000", "models": ALL}}, r"shards\.a\.address: .* got '127"),
        ({"a": {"address": "::1:8086", "models": ALL}}, r"shards\.a\.address: .*IPv6 host in brackets"),
        ({"a": {"address": 8086, "models": ALL}}, r"shards\.a\.address: expected HOST:PORT.* got 8086"),
        ({"a": {"address": "http://h:8086", "models": ALL}}, r"shards\.a\.address: expected HOST:PORT"),
        ({"a": {"address": A, "models": "fraud"}}, r"shards\.a\.models: expected a non-empty list"),
        ({"a": {"address": A, "models": []}}, r"shards\.a\.models: expected a non-empty list"),
        ({"a": {"address": A, "models": [1]}}, r"shards\.a\.models: expected a non-empty list"),
        (
            {"a": {"address": A, "models": [*ALL, "nope"]}},
            r"shards\.a\.models: 'nope' is not a model of the config \(its models: taxi-duration, churn, ",
        ),
        (
            {"a": {"address": A, "models": ALL}, "b": {"address": B, "models": ["churn"]}},
            r"shards\.b\.models: 'churn' is given to shard 'a' already; each model is served by exactly one",
        ),
        (
            {"a": {"address": A, "models": ["fraud", "fraud", "churn", "taxi-duration"]}},
            r"shards\.a\.models: 'fraud' is given to shard 'a' already",
        ),
        (
            {"a": {"address": A, "models": ["taxi-duration"]}, "b": {"address": B, "models": ["churn"]}},
            r"shards: models \['fraud'\] belong to no shard",
        ),
        (
            {
                "a": {"address": A, "models": ["taxi-duration"]},
                "b": {"address": A, "models": ["churn", "fraud"]},
            },
            r"shards\.b\.address: 127\.0\.0\.1:8086 is the address of shard 'a' too",
        ),
    ],
)
def test_a_bad_shards_section_names_the_key_and_the_problem(shards: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _config(shards)


def test_a_model_name_no_proxy_route_can_match_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"shards\.a\.models: model 'taxi duration' has characters"):
        _config({"a": {"address": A, "models": ["taxi duration"]}}, ("taxi duration",))


def test_shards_is_a_known_top_level_key_and_a_typo_is_not() -> None:
    with pytest.raises(ConfigError, match=r"unknown config keys \['shard'\]"):
        parse_config({"models": {"m": MODEL}, "shard": {}}, environ={})
