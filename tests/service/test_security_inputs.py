"""Every input class gets a 4xx JSON error naming the input and the problem, never a 5xx."""

from __future__ import annotations

import asyncio
import json
import math

import pytest
from prometheus_client import CollectorRegistry
from security_support import MAX_BODY, client, config, event, service

from modelmon.service.app import create_app
from modelmon.service.openapi import OPERATIONS


@pytest.fixture(scope="module")
def svc():
    monitoring = service(config())
    yield monitoring
    monitoring.close()


@pytest.fixture(scope="module")
def api(svc):
    return client(svc)


def _rejection(answer) -> str:
    assert answer.status_code == 422, answer.text
    (rejected,) = answer.json()["rejected"]
    return rejected["error"]


@pytest.mark.parametrize(
    "timestamp", [1e20, -1e15, 1.7e12, "NaN", "nan", "0001-01-01T00:00:00", "9999-12-31"]
)
def test_an_out_of_range_or_non_finite_timestamp_is_refused_naming_it(api, timestamp):
    error = _rejection(api.post("/v1/models/m/events", json=event(timestamp=timestamp)))
    assert error.startswith("timestamp:"), error
    record = {"x": 1.0, "c": "a", "y": 2.0, "rid": "r1", "ts": timestamp}
    assert _rejection(api.post("/iterate/m", json=[record])).startswith("timestamp:")


def test_milliseconds_are_named_as_the_likely_mistake(api):
    assert "not milliseconds" in _rejection(api.post("/v1/models/m/events", json=event(timestamp=1.7e12)))


def test_timestamps_within_the_range_are_kept(api):
    body = {"events": [event(1, timestamp=1.7e9), event(2, timestamp="2026-01-02T03:04:05Z")]}
    assert api.post("/v1/models/m/events", json=body).json() == {"accepted": 2, "rejected": []}


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_a_non_finite_number_in_the_json_text_is_a_400(api, literal):
    body = b'{"features": {"x": 1}, "prediction": 1, "timestamp": ' + literal + b"}"
    answer = api.post("/v1/models/m/events", content=body)
    assert answer.status_code == 400
    assert "not valid JSON" in answer.json()["error"]


@pytest.mark.parametrize("number", [2**64, 2**63, -(2**63) - 1, 10**30, -(10**40)])
def test_integers_beyond_64_bits_are_refused(api, number):
    body = b'{"features": {"x": %d, "c": "a"}, "prediction": 1}' % number
    answer = api.post("/v1/models/m/events", content=body)
    assert answer.status_code == 400
    assert f"the number {number} is outside the 64-bit integer range" in answer.json()["error"]


def test_the_largest_64_bit_integers_are_accepted(api):
    body = {"events": [event(1, prediction=2**63 - 1), event(2, prediction=-(2**63))]}
    assert api.post("/v1/models/m/events", json=body).json()["accepted"] == 2


@pytest.mark.parametrize(
    "limit", ["1" * 30, "²", "١٢", "-1", "0", "10001", "abc", "", " 5", "5.0", "0x10", "1e3"]
)
def test_history_limit_of_any_shape_is_a_400_naming_it(api, limit):
    answer = api.get("/v1/models/m/history", params={"limit": limit})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"].startswith("limit: expected an integer from 1 to 10000")


def test_query_parameters_of_other_shapes_are_answered(api):
    assert api.get("/v1/models/m/history", params={"limit": "7", "names": "window_rows"}).status_code == 200
    assert api.get("/v1/models/m/history", params={"names": "x" * 5000}).status_code == 400
    assert api.get("/v1/reports", params={"model": "\ud7ff" * 3}).status_code == 200
    assert api.get("/v1/reports", params={"unknown": "1"}).status_code == 200


def test_an_oversize_body_with_content_length_is_refused_before_reading(api):
    answer = api.post("/v1/models/m/events", content=b"x" * (MAX_BODY + 1))
    assert answer.status_code == 413
    assert f"limit of {MAX_BODY} bytes" in answer.json()["error"]


def test_a_bad_content_length_is_a_400(svc):
    status, body, _ = _call(create_app(svc, CollectorRegistry()), [b"{}"], content_length=b"12abc")
    assert status == 400 and "Content-Length" in json.loads(body)["error"]


def _call(app, chunks, content_length: bytes | None = None) -> tuple[int, bytes, int]:
    """Drive the ASGI app with a streamed body; (status, answer body, bytes the app pulled)."""
    pulled = 0
    source = iter(chunks)
    answer: dict = {"body": b""}
    finished = False

    async def receive():
        nonlocal pulled, finished
        chunk = next(source, None)
        if chunk is None:
            if finished:
                return {"type": "http.disconnect"}
            finished = True
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    headers = [(b"content-type", b"application/json")]
    if content_length is not None:
        headers.append((b"content-length", content_length))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/v1/models/m/events", "raw_path": b"/v1/models/m/events", "query_string": b"",
        "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "root_path": "",
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    return answer["status"], answer["body"], pulled


def test_a_chunked_300_mb_body_stops_being_read_at_the_limit(svc):
    chunk = b" " * 65536
    chunks = (chunk for _ in range(300 * 2**20 // len(chunk)))  # 300 MB, never built whole
    status, body, pulled = _call(create_app(svc, CollectorRegistry()), chunks)
    assert status == 413 and "reading stopped there" in json.loads(body)["error"]
    assert MAX_BODY < pulled <= MAX_BODY + len(chunk)


def test_a_content_length_that_understates_the_stream_does_not_lift_the_limit(svc):
    chunks = (b" " * 65536 for _ in range(100))
    status, _, pulled = _call(create_app(svc, CollectorRegistry()), chunks, content_length=b"10")
    assert status == 413 and pulled <= MAX_BODY + 65536


@pytest.mark.parametrize(("depth", "opening", "closing"), [(100, b'{"a": ', b"}"), (1100, b'{"a": ', b"}"),
                                                        (50_000, b"[", b"]")])  # fmt: skip
def test_deep_nesting_of_the_body_is_a_400(api, depth, opening, closing):
    body = (
        b'{"features": {"x": 1}, "prediction": 1, "metadata": '
        + opening * depth
        + b"1"
        + closing * depth
        + b"}"
    )
    answer = api.post("/v1/models/m/events", content=body)
    assert answer.status_code == 400, answer.text[:200]
    assert "nested" in answer.json()["error"] or "depth" in answer.json()["error"]


def test_deep_lists_anywhere_are_a_400(api):
    answer = api.post("/iterate/m", content=b"[" * 5000 + b"]" * 5000)
    assert answer.status_code == 400


def test_brackets_inside_strings_do_not_count_as_nesting(api):
    answer = api.post("/v1/models/m/events", json=event(metadata={"note": "[[[{{{" * 100}))
    assert answer.json() == {"accepted": 1, "rejected": []}


@pytest.mark.parametrize(
    "raw", [b'{"features": {"x": "\xff"}, "prediction": 1}', b"\xfe\xff\x00{", b'"\xed\xa0\x80"']
)
def test_non_utf8_bodies_are_a_400(api, raw):
    answer = api.post("/v1/models/m/events", content=raw)
    assert answer.status_code == 400
    assert "UTF-8" in answer.json()["error"] or "not valid JSON" in answer.json()["error"]


def test_a_nested_value_in_any_field_is_rejected_by_name_without_echoing_it(api):
    deep = [[[[[["x"]]]]]]
    for field in ("prediction", "target", "latency_ms", "id", "probabilities", "attributions"):
        error = _rejection(api.post("/v1/models/m/events", json=event(**{field: deep})))
        assert error.startswith(f"{field}"), error
        assert "[[" not in error


def _garbage_bodies():
    yield b""
    yield b"null"
    yield b"[]"
    yield b"[1, 2]"
    yield b'"text"'
    yield b"12"
    yield b'{"events": 3}'
    yield b'{"events": [null, 1, "x", []]}'
    yield b'{"targets": {"id": 1}}'
    yield b'{"targets": [{"id": [1], "target": 1}, {"id": "a"}]}'
    yield json.dumps(
        {"events": [{"features": {"x": math.pi}, "prediction": None, "timestamp": "2026-99-99"}]}
    ).encode()


@pytest.mark.parametrize("op", [op for op in OPERATIONS], ids=lambda op: f"{op.method} {op.path}")
def test_every_route_answers_garbage_with_a_4xx_json_error_or_success(api, op):
    path = op.path.replace("{model}", "m").replace("{report_id}", "no-such-report")
    if op.method == "POST":
        for body in _garbage_bodies():
            answer = api.post(path, content=body)
            assert 400 <= answer.status_code < 500 or answer.status_code == 200, (body, answer.text)
            if answer.status_code >= 400:
                assert answer.json().get("error") or answer.json()["rejected"]
    else:
        for query in ({"limit": "²", "names": "\x00"}, {"model": "[]"}, {}):
            answer = api.get(path, params=query)
            assert answer.status_code < 500, answer.text
    unknown = op.path.replace("{model}", "nope").replace("{report_id}", "../../etc/passwd")
    answer = api.request(op.method, unknown, content=b"{}")
    assert answer.status_code < 500


def test_error_texts_name_no_file_path_of_the_server(tmp_path):
    store_file = tmp_path / "store.db"
    monitoring = service(config(), f"sqlite:///{store_file}")
    try:
        api = client(monitoring)
        answers = [
            api.get("/v1/reports/no-such-report"),
            api.get("/v1/reports/no-such-report/html"),
            api.get("/v1/reports/..%2F..%2Fetc%2Fpasswd"),
            api.post("/v1/models/m/events", content=b"{bad"),
            api.post("/v1/models/nope/events", json={}),
            api.get("/v1/models/m/history", params={"limit": "x"}),
        ]
        for answer in answers:
            assert 400 <= answer.status_code < 500
            text = answer.text
            assert str(tmp_path) not in text and "store.db" not in text and "site-packages" not in text, text
    finally:
        monitoring.close()


@pytest.mark.parametrize(
    "text",
    [
        b'{"a": "\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}',
        b'{"a": "\\\\", "b": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}',
        b'{"id": "123456789012345678901234567", "x": 1.23456789012345678901, "y": 1234567890123456789012e-3}',
        b'{"x": 9223372036854775807, "y": -9223372036854775808, "z": 0.00000000000000000000001}',
        # a signed exponent of many digits: a float (0.0 or 10.0), whatever its digits' integer value
        b'{"x": 1e-99999999999999999999, "y": 0E+99999999999999999999, "z": 1e+00000000000000000001}',
        b'{"x": -1.5E-12345678901234567890123, "y": [2e-99999999999999999999]}',
    ],
)
def test_strings_escapes_and_floats_are_not_mistaken_for_nesting_or_long_integers(text):
    from modelmon.service.body import parse_json

    assert isinstance(parse_json(text), dict)


def test_an_escaped_quote_does_not_hide_real_nesting():
    from modelmon.errors import BodyError
    from modelmon.service.body import parse_json

    text = b'{"a": "\\"", "b": ' + b"[" * 70 + b"]" * 70 + b"}"
    with pytest.raises(BodyError, match="nested 71 levels deep"):
        parse_json(text)


def _depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def _random_value(rng, level: int):
    kind = rng.integers(6) if level < 12 else 5
    if kind == 0:
        return {f'k"{i}]': _random_value(rng, level + 1) for i in range(rng.integers(4))}
    if kind == 1:
        return [_random_value(rng, level + 1) for _ in range(rng.integers(4))]
    pieces = ["[", "]", "{", "}", '"', "\\", '\\"', "a", "9" * 20, "é"]
    return "".join(rng.choice(pieces, size=rng.integers(8)))


@pytest.mark.parametrize("seed", range(40))
def test_the_depth_counts_brackets_outside_strings_only(seed):
    """Strings full of brackets, quotes, backslashes and long digit runs: the depth refused is the
    document's own, and no digit run inside a string is taken for an integer."""
    import numpy as np

    from modelmon.errors import BodyError
    from modelmon.service.body import parse_json

    rng = np.random.default_rng(seed)
    document = {"events": [_random_value(rng, 2) for _ in range(5)]}
    depth = _depth(document)
    text = json.dumps(document).encode()
    assert parse_json(text, max_depth=depth) == document
    with pytest.raises(BodyError, match=f"nested {depth} levels deep; at most {depth - 1}"):
        parse_json(text, max_depth=depth - 1)
