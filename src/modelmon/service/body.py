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
modelmon.service.body.BodyError: body: the number 18446744073709551616 is outside the 64-bit integer range
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import numpy as np
import orjson

__all__ = ["INT64_MAX", "INT64_MIN", "MAX_DEPTH", "BodyError", "parse_json", "read_body"]

#: deepest nesting of objects and lists accepted in a body (an event needs 3, metadata a few more)
MAX_DEPTH = 64
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
# integer literals of 19 digits or more (outside strings), the only ones that can leave 64 bits
_LONG_INTEGER = re.compile(rb"(?<![\d.eE+-])-?\d{19,}(?![\d.eE])")
_OPEN = np.zeros(256, dtype=np.int8)
_OPEN[[ord("["), ord("{")]] = 1
_OPEN[[ord("]"), ord("}")]] = -1


class BodyError(ValueError):
    """A body refused before it reaches a handler; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


async def read_body(chunks: AsyncIterator[bytes], limit: int, declared: str | None = None) -> bytes:
    """The whole body from ``chunks``, or 413 as soon as it is known to be over ``limit`` bytes.

    ``declared`` is the ``Content-Length`` header: a larger one is refused before anything is
    read; a smaller one does not stop a longer stream from being cut at the limit.
    """
    if declared is not None:
        if not declared.isascii() or not declared.isdecimal():
            raise BodyError(f"Content-Length: expected a number of bytes, got {declared[:40]!r}")
        if int(declared) > limit:
            raise BodyError(f"body of {declared} bytes is larger than the limit of {limit} bytes", 413)
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise BodyError(f"body is larger than the limit of {limit} bytes (reading stopped there)", 413)
        parts.append(chunk)
    return b"".join(parts)


def _nesting(text: bytes) -> int:
    """The deepest nesting of ``[`` and ``{`` in JSON text whose strings are already blanked."""
    if not text:
        return 0
    steps = _OPEN[np.frombuffer(text, dtype=np.uint8)]
    return int(np.cumsum(steps, dtype=np.int64).max(initial=0))


def parse_json(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """``body`` parsed as strict JSON, or :class:`BodyError` (400) naming the problem."""
    if not body.strip():
        raise BodyError("body: empty; expected a JSON document")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BodyError(f"body is not valid JSON (UTF-8, no NaN or Infinity): {exc}") from exc
    if isinstance(data, dict | list):
        bare = _STRING.sub(b'""', body)
        depth = _nesting(bare)
        if depth > max_depth:
            raise BodyError(f"body: nested {depth} levels deep; at most {max_depth} are accepted")
        for match in _LONG_INTEGER.finditer(bare):
            if not INT64_MIN <= int(match.group()) <= INT64_MAX:
                raise BodyError(
                    f"body: the number {match.group().decode()} is outside the 64-bit integer range"
                )
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
