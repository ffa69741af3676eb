"""A body's integer check against the parsed document: refused exactly when some integer of it is
outside 64 bits, whatever the floats, exponents and digit runs inside strings around it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from modelmon.errors import BodyError
from modelmon.service.body import INT64_MAX, INT64_MIN, parse_json

#: number literals written as they are: integers at and beyond the 64-bit edges, floats whose
#: fraction or signed exponent is a run of 20 digits or more
_NUMBERS = [
    str(INT64_MAX), str(INT64_MIN), str(INT64_MAX + 1), str(INT64_MIN - 1), "1" + "0" * 25, "-0",
    "1e-99999999999999999999", "-2.5E+00000000000000000002", "0E+99999999999999999999",
    "0.00000000000000000000000001", "123456789012345678901234.5", "-7e-123456789012345678901",
]  # fmt: skip
_TEXT = ["\\", '\\"', "[", "]", "-", "e", "E", "+", ".", "9" * 20, "a", "é"]


def _literal(rng: np.random.Generator, level: int) -> str:
    kind = rng.integers(5) if level < 6 else 4
    if kind == 0:
        items = (f"{json.dumps(str(i))}: {_literal(rng, level + 1)}" for i in range(rng.integers(4)))
        return "{" + ", ".join(items) + "}"
    if kind == 1:
        return "[" + ", ".join(_literal(rng, level + 1) for _ in range(rng.integers(4))) + "]"
    if kind == 2:
        return json.dumps("".join(rng.choice(_TEXT, size=rng.integers(8))))
    return str(rng.choice(_NUMBERS))


def _outside_64_bits(value: object) -> bool:
    if isinstance(value, dict):
        return any(map(_outside_64_bits, value.values()))
    if isinstance(value, list):
        return any(map(_outside_64_bits, value))
    return type(value) is int and not INT64_MIN <= value <= INT64_MAX


@pytest.mark.parametrize("seed", range(40))
def test_a_body_is_refused_for_its_integers_beyond_64_bits_alone(seed):
    rng = np.random.default_rng(seed)
    for _ in range(25):
        text = _literal(rng, 0)
        if _outside_64_bits(json.loads(text)):
            with pytest.raises(BodyError, match="outside the 64-bit integer range"):
                parse_json(text.encode())
        else:
            assert parse_json(text.encode()) == json.loads(text), text
