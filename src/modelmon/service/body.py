"""Reading and parsing request bodies within fixed limits.

A body is read chunk by chunk and reading stops as soon as it passes the limit, whether or not
the client sent a ``Content-Length`` (a chunked 300 MB body costs at most the limit plus one chunk).
It is parsed as strict JSON: UTF-8 only, no ``NaN`` or ``Infinity``, no integer outside the 64-bit
range, and at most :data:`MAX_DEPTH` levels of nesting. Each refusal is a :class:`BodyError` with
the HTTP status and a message saying what is wrong and what is accepted.

>>> parse_json(b'{"events": [{"features": {"x": 1}}]}')
{'events': [{'features': {'x': 1}}]}
>>> parse_json(b'{"x": 18446744073709551616}')
Traceback (most recent call last):
...
modelmon.errors.BodyError: body: the number 18446744073709551616 is outside the 64-bit integer range
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import numpy as np
import orjson

from modelmon.errors import BodyError
from modelmon.service.body_budget import Claim
from modelmon.service.sliced_json import BRACKET_STEP, outside_strings, parse_in_slices, string_quotes

__all__ = ["INT64_MAX", "INT64_MIN", "MAX_DEPTH", "parse_json", "read_body"]

#: deepest nesting of objects and lists accepted in a body (an event needs 3; `metadata` has its own, lower
#: limit, so an event nested too deep is rejected alone and the rest of its batch kept)
MAX_DEPTH = 64
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_MINUS = ord("-")
_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[list(b"0123456789")] = True
_NOT_AN_INTEGER = frozenset(b".eE")  # beside a run of digits: a float, which is never out of range
_EXPONENT, _SIGNS = frozenset(b"eE"), frozenset(b"+-")
#: integer literals of fewer digits always fit in 64 bits
_LONG_DIGITS = 19
#: a body's bytes translated: each bracket to its step of depth (int8), every other byte to 0
_BRACKET_STEPS = bytes(BRACKET_STEP.view(np.uint8))
#: a body's bytes translated: each digit to 1, every other byte to 0, and the run a long literal needs
_DIGIT_MARKS = bytes(_DIGIT.view(np.uint8))
_LONG_RUN = b"\x01" * _LONG_DIGITS
#: bodies larger than this are parsed a slice of their main array at a time
SLICED_BYTES = 1 << 20


async def read_body(
    chunks: AsyncIterator[bytes],
    limit: int,
    declared: str | None = None,
    seconds: float | None = None,
    claim: Claim | None = None,
) -> bytes:
    """The whole body from ``chunks``, or 413 as soon as it is known to be over ``limit`` bytes.

    ``declared`` is the ``Content-Length`` header: a larger one is refused before anything is
    read; a smaller one does not stop a longer stream from being cut at the limit. A body that
    has not all arrived within ``seconds`` is refused with 408 (a slow client holds nothing long).
    Its bytes are taken from ``claim`` (the declared length before reading, else as they come):
    :class:`~modelmon.errors.ServiceBusy` when the service's budget of bodies cannot hold them.
    """
    held = 0
    if declared is not None:
        if not declared.isascii() or not declared.isdecimal():
            raise BodyError(f"Content-Length: expected a number of bytes, got {declared[:40]!r}")
        if int(declared) > limit:
            raise BodyError(f"body of {declared} bytes is larger than the limit of {limit} bytes", 413)
        if claim is not None:
            claim.take(int(declared))
            held = int(declared)
    parts: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(seconds):
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    message = f"body is larger than the limit of {limit} bytes (reading stopped there)"
                    raise BodyError(message, 413)
                if claim is not None and size > held:
                    claim.take(size - held)
                    held = size
                parts.append(chunk)
    except TimeoutError as exc:
        came = f"{size} bytes came"
        message = f"the body did not arrive within {seconds:g} s of its headers ({came}): send it at once"
        raise BodyError(message, 408) from exc
    return b"".join(parts)


def _check_structure(body: bytes, max_depth: int, outside: np.ndarray | None = None) -> None:
    """Refuse nesting beyond ``max_depth`` and integer literals beyond 64 bits in valid JSON ``body``.

    Only the brackets are looked at for the depth (a bracket inside a string literal does not
    count), and the integers only when some run of 19 digits is there at all: both are found by a
    byte translation and a search, far cheaper than a pass of array operations over every byte.
    """
    steps = np.frombuffer(body.translate(_BRACKET_STEPS), dtype=np.int8)
    brackets = np.flatnonzero(steps)
    if outside is not None:
        counted = outside[brackets]
    else:
        quotes = string_quotes(np.frombuffer(body, dtype=np.uint8))
        # a bracket after an even number of string quotes lies outside the strings
        counted = np.searchsorted(quotes, brackets) % 2 == 0
    # parsed already, so the depth is at most the parser's own limit: 32 bits hold it
    depth = int(np.cumsum(steps[brackets[counted]], dtype=np.int32).max(initial=0))
    if depth > max_depth:
        raise BodyError(f"body: nested {depth} levels deep; at most {max_depth} are accepted")
    if _LONG_RUN not in body.translate(_DIGIT_MARKS):
        return  # no literal long enough to leave the 64-bit range
    codes = np.frombuffer(body, dtype=np.uint8)
    outside = outside_strings(codes) if outside is None else outside
    digits = _DIGIT[codes] & outside
    edges = np.flatnonzero(np.diff(digits.astype(np.int8), prepend=0, append=0))
    starts, ends = edges[::2], edges[1::2]
    for run in np.flatnonzero(ends - starts >= _LONG_DIGITS):
        start, end = int(starts[run]), int(ends[run])
        if (start and body[start - 1] in _NOT_AN_INTEGER) or (
            end < len(body) and body[end] in _NOT_AN_INTEGER
        ):
            continue
        if start >= 2 and body[start - 1] in _SIGNS and body[start - 2] in _EXPONENT:
            continue  # a signed exponent's digits: the number is a float
        sign = start and body[start - 1] == _MINUS
        literal = body[start - sign : end].decode()
        if not INT64_MIN <= int(literal) <= INT64_MAX:
            raise BodyError(f"body: the number {literal} is outside the 64-bit integer range")


def parse_json(body: bytes, max_depth: int = MAX_DEPTH, max_items: int | None = None) -> Any:
    """``body`` parsed as strict JSON, or :class:`BodyError` (400) naming the problem.

    A large body whose main array has more than ``max_items`` elements is refused (413) unparsed.
    """
    if not body.strip():
        raise BodyError("body: empty; expected a JSON document")
    outside = None
    data = None
    if len(body) > SLICED_BYTES:  # a large body: never one parse that holds the interpreter long
        outside = outside_strings(np.frombuffer(body, dtype=np.uint8))
        data = parse_in_slices(body, outside, max_items=max_items)
    if data is None:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BodyError(f"body is not valid JSON (UTF-8, no NaN or Infinity): {exc}") from exc
    _check_structure(body, max_depth, outside)
    return data


def request_chunks(receive: Callable[[], Awaitable[MutableMapping[str, Any]]]) -> AsyncIterator[bytes]:
    """The body chunks of an ASGI request, read from ``receive`` one message at a time."""

    async def chunks() -> AsyncIterator[bytes]:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise BodyError("the client went away before the body was complete")
            yield message.get("body", b"")
            if not message.get("more_body", False):
                return

    return chunks()
