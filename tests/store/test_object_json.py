"""The features' JSON text: orjson's where it reads back as the standard encoder's, else the standard's."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from modelmon.store import object_json as module
from modelmon.store.documents import encode_json
from modelmon.store.object_json import object_json, object_jsons

pytest.importorskip("orjson")

FLAT = [
    {"x": 1.68, "n": 1, "city": "Zürich", "flag": True, "missing": None},
    {"big": 1e16, "small": 1e-7, "zero": -0.0, "int": 2**62, "negative": -(2**63)},
    {"quote": 'say "hi"\n\t\\', "control": "\x01\x1f", "emoji": "\U0001f600"},
    {},
]


@pytest.mark.parametrize("value", FLAT)
def test_orjson_text_reads_back_as_the_standard_encoders(value: dict) -> None:
    text = object_json(value)
    assert json.loads(text) == json.loads(encode_json(value)) == value
    assert [type(item) for item in json.loads(text).values()] == [type(item) for item in value.values()]
    # the fast encoder wrote it (its spelling, no spaces, UTF-8 as is)
    assert text == module.orjson.dumps(value).decode()


@pytest.mark.parametrize(
    "value",
    [
        {"x": math.nan, "y": None},
        {"x": math.inf},
        {"x": -math.inf, "label": "null"},
        {"huge": 2**64},  # beyond 64 bits: orjson refuses it
        {1: 2.0},  # a key that is not text
        {"lone": "\ud800"},  # a lone surrogate
        {"nested": {"a": 1}},
        {"numpy": np.float64(0.5)},
        [1, 2],
    ],
)
def test_what_orjson_would_write_otherwise_is_the_standard_encoders_text(value) -> None:
    assert object_json(value) == encode_json(value)


def test_a_value_the_standard_encoder_refuses_is_still_refused() -> None:
    with pytest.raises(TypeError):
        object_json({"x": object()})


def test_without_orjson_the_standard_encoder_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "orjson", None)
    value = {"x": 1e16, "city": "Zürich"}
    assert object_json(value) == encode_json(value) == '{"x":1e+16,"city":"Z\\u00fcrich"}'


_VALUES = [1.68, -0.0, 1e308, 0, 2**63 - 1, True, None, "Zürich", "null", "\u2028"]
_ODD = [math.nan, math.inf, -math.inf, 2**64, "\ud800", {"a": 1}, [1], np.float64(0.5), np.int64(2)]


def _odd(value: object) -> bool:
    if type(value) is not dict:
        return True
    plain = {str, int, float, bool, type(None)}
    return any(type(key) is not str for key in value) or any(
        type(x) not in plain or (type(x) is float and not math.isfinite(x)) or x in (2**64, "\ud800")
        for x in value.values()
    )


@pytest.mark.parametrize("seed", range(6))
def test_many_objects_written_at_once_are_written_as_one_at_a_time(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(200):
        odd = rng.random() < 0.5
        values = [
            {
                f"k{i}": rng.choice(_ODD if odd and rng.random() < 0.05 else _VALUES)
                for i in range(rng.randrange(4))
            }
            for _ in range(rng.randrange(1, 30))
        ]
        if odd and rng.random() < 0.1:
            values[rng.randrange(len(values))] = {1: 2.0}
        texts = object_jsons(values)
        if texts is None:  # left to object_json: only when something in them needs its own look
            assert any(map(_odd, values))
        else:
            assert texts == [object_json(value) for value in values]
