"""The ``shards:`` section of the monitoring config: which process serves which models.

A sharded monitoring service runs one ``modelmon serve --shard NAME`` process per shard; each
serves only its shard's models and listens on its address, and ``modelmon proxy-config`` routes
each model's routes to its owner (see :mod:`modelmon.service.shard`). Every model of the config is
owned by exactly one shard, so each window lives in exactly one process.

>>> shards = parse_shards_section(
...     {"monitor-a": {"address": "127.0.0.1:8086", "models": ["taxi", "churn"]},
...      "monitor-b": {"address": "[::1]:8087", "models": ["fraud"]}},
...     models=["taxi", "churn", "fraud"],
... )
>>> shards["monitor-b"].host, shards["monitor-b"].port, shards["monitor-a"].models
('::1', 8087, ('taxi', 'churn'))
>>> parse_shards_section({"monitor-a": {"address": "127.0.0.1:8086", "models": ["taxi"]}}, ["taxi", "fraud"])
Traceback (most recent call last):
...
modelmon.errors.ConfigError: shards: models ['fraud'] belong to no shard; give each to exactly one shard
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from modelmon.errors import ConfigError

__all__ = ["ROUTABLE_NAME", "Shard", "parse_shards_section"]

_SHARD_KEYS = {"address", "models"}
#: names a proxy can route by a plain regular expression, and that a command line takes as they are
ROUTABLE_NAME = re.compile(r"^[A-Za-z0-9._~-]+$")
_ADDRESS = re.compile(r"^(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9._-]+)):(?P<port>[0-9]{1,5})$")


@dataclass(frozen=True)
class Shard:
    """One process of a sharded monitoring service (``shards:``): where it listens, which models it owns.

    >>> Shard("monitor-a", "127.0.0.1", 8086, ("taxi",)).address, Shard("b", "::1", 8087, ("c",)).address
    ('127.0.0.1:8086', '[::1]:8087')
    """

    name: str
    host: str
    port: int
    models: tuple[str, ...]

    @property
    def address(self) -> str:
        """``HOST:PORT`` (an IPv6 host in brackets), as a proxy names the upstream."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def _address(value: Any, where: str) -> tuple[str, int]:
    match = _ADDRESS.match(value) if isinstance(value, str) else None
    port = int(match["port"]) if match else 0
    if match is None or not 1 <= port <= 65535:
        raise ConfigError(
            f"{where}: expected HOST:PORT with a port from 1 to 65535 (an IPv6 host in brackets), "
            f"got {value!r}"
        )
    return match["ipv6"] or match["host"], port


def parse_shards_section(data: Any, models: Sequence[str]) -> dict[str, Shard]:
    """``shards:``: every model of the config owned by exactly one shard, each at its own address
    (none: one process serves every model)."""
    if not data:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"shards: expected a mapping of shard name -> {{address, models}}, got {data!r}")
    shards: dict[str, Shard] = {}
    owner: dict[str, str] = {}
    at: dict[str, str] = {}
    for key, spec in data.items():
        name, where = str(key), f"shards.{key}"
        if not ROUTABLE_NAME.match(name):
            raise ConfigError(f"{where}: a shard name may hold only letters, digits and . _ ~ -")
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{where}: expected {{address: HOST:PORT, models: [MODEL, ...]}}, got {spec!r}")
        unknown = sorted(map(str, set(spec) - _SHARD_KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown keys {unknown}; valid keys: {sorted(_SHARD_KEYS)}")
        missing = sorted(_SHARD_KEYS - set(spec))
        if missing:
            raise ConfigError(f"{where}: {missing} missing; a shard needs an address (HOST:PORT) and models")
        host, port = _address(spec["address"], f"{where}.address")
        shard_models = spec["models"]
        if (
            isinstance(shard_models, str)
            or not isinstance(shard_models, Sequence)
            or not shard_models
            or not all(isinstance(model, str) for model in shard_models)
        ):
            raise ConfigError(
                f"{where}.models: expected a non-empty list of model names, got {shard_models!r}"
            )
        for model in shard_models:
            if model not in models:
                known = ", ".join(models) or "none"
                raise ConfigError(
                    f"{where}.models: {model!r} is not a model of the config (its models: {known})"
                )
            if model in owner:
                raise ConfigError(
                    f"{where}.models: {model!r} is given to shard {owner[model]!r} already; "
                    "each model is served by exactly one shard"
                )
            if not ROUTABLE_NAME.match(model):
                raise ConfigError(
                    f"{where}.models: model {model!r} has characters a proxy route cannot match "
                    "(rename it with letters, digits and . _ ~ -)"
                )
            owner[model] = name
        shard = Shard(name, host, port, tuple(shard_models))
        if shard.address in at:
            raise ConfigError(
                f"{where}.address: {shard.address} is the address of shard {at[shard.address]!r} too"
            )
        at[shard.address] = name
        shards[name] = shard
    unowned = [model for model in models if model not in owner]
    if unowned:
        raise ConfigError(f"shards: models {unowned} belong to no shard; give each to exactly one shard")
    return shards
