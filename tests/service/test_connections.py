"""The connection limits' settings, and the body deadline as the app reads it (the slow sockets
themselves are held against a real server in tests/integration/test_slow_clients.py)."""

from __future__ import annotations

import asyncio
import time

import pytest

from modelmon.config import parse_config
from modelmon.errors import ConfigError
from modelmon.service.body import BodyError, read_body
from modelmon.service.connections import FILE_RESERVE, ConnectionGuard, file_limit


def test_limits_are_read_from_the_config_and_bad_ones_name_the_key():
    limits = parse_config({"limits": {"header_seconds": 2, "connections": 50}}, environ={}).limits
    assert (limits.header_seconds, limits.body_seconds, limits.connections) == (2, 60.0, 50)
    for bad, key in (
        ({"header_seconds": 0}, "limits.header_seconds"),
        ({"connections": 1.5}, "limits.connections"),
    ):
        with pytest.raises(ConfigError, match=key):
            parse_config({"limits": bad}, environ={})
    with pytest.raises(ConfigError, match="keys among"):
        parse_config({"limits": {"slowloris": 1}}, environ={})


def test_the_connection_limit_stays_below_the_file_limit():
    assert ConnectionGuard(connections=10**9).connections == file_limit() - FILE_RESERVE
    assert ConnectionGuard(connections=5).connections == 5


def test_a_body_that_stalls_is_a_408_at_its_deadline():
    async def stalled():
        yield b'{"events": ['
        await asyncio.Event().wait()  # the client sends nothing more
        yield b""

    started = time.perf_counter()
    with pytest.raises(
        BodyError, match=r"did not arrive within 0.5 s of its headers \(12 bytes came\)"
    ) as caught:
        asyncio.run(read_body(stalled(), 1000, seconds=0.5))
    assert caught.value.status == 408 and time.perf_counter() - started < 5
