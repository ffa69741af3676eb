"""A large body parsed in slices is the document a whole parse gives; what is not valid JSON is left
to the whole parse (and its error)."""

from __future__ import annotations

import json
import random

import orjson
import pytest

from modelmon.errors import BodyError
from modelmon.service.body import SLICED_BYTES, parse_json
from modelmon.service.sliced_json import parse_in_slices

_ITEMS = [{"a": 0.5, "s": 'x,]"\\'}, [1, [2, ","]], 'q\\"[', 7, None, {}, "", {"events": []}]


def _document(rng: random.Random) -> object:
    items = [rng.choice(_ITEMS) for _ in range(rng.randint(0, 40))]
    return rng.choice([{"events": items, "k": [1]}, items, {"targets": items}, {"a": [], "events": items}])


def test_sliced_parses_equal_the_whole_parse_on_random_documents():
    rng = random.Random(0)
    for _ in range(500):
        document = _document(rng)
        text = json.dumps(document, separators=rng.choice([(",", ":"), (", ", ": ")])).encode()
        sliced = parse_in_slices(text, slice_bytes=rng.randint(1, 60))
        assert sliced is None or sliced == document, text


@pytest.mark.parametrize(
    "text",
    [
        b'{"events": [1, 2,]}',
        b'{"events": [,1]}',
        b'{"events": [1 2]}',
        b"[1, 2",
        b'{"events": [1]] }',
        b"[1,,2]",
    ],
)
def test_text_that_is_not_json_is_never_accepted_in_slices(text):
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(text)
    assert parse_in_slices(text, slice_bytes=1) is None


def test_a_large_body_is_parsed_in_slices_and_its_errors_are_the_whole_parse_s():
    events = [{"id": str(i), "features": {"x": i, "c": "a,]"}, "prediction": 1} for i in range(40_000)]
    body = orjson.dumps({"events": events})
    assert len(body) > SLICED_BYTES and parse_json(body) == {"events": events}
    with pytest.raises(BodyError, match="not valid JSON"):
        parse_json(body[:-2] + b",]}")
