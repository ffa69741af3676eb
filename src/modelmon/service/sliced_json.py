"""Parsing a large JSON body a slice of its main array at a time.

``orjson.loads`` holds the interpreter for the whole document: 0.7 s for 9.5 MiB of small events
on an idle machine, several seconds on a busy one, during which the event loop answers nothing,
not even ``/health``. A body whose bulk is one array (``{"events": [...]}``, ``{"targets": [...]}``
or the top-level list of ``/iterate``) is parsed here as its skeleton plus slices of about
:data:`SLICE_BYTES` of that array's elements, each parsed alone, so the interpreter changes hands
between slices. The elements are found by the positions of the array's commas outside strings.
Anything else (another shape, or text that is not valid JSON) gives None, and the caller parses
the body whole (and reports its error as usual).

>>> parse_in_slices(b'{"events": [{"a": 1}, {"a": "x,]"}, 3]}', slice_bytes=8)
{'events': [{'a': 1}, {'a': 'x,]'}, 3]}
>>> parse_in_slices(b'{"events": 1}') is None
True
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import numpy as np
import orjson

from modelmon.errors import BodyError

__all__ = ["BRACKET_STEP", "SLICE_BYTES", "outside_strings", "parse_in_slices", "string_quotes"]

#: bytes of array elements parsed in one call
SLICE_BYTES = 256 * 1024
_OPEN, _CLOSE, _COMMA = ord("["), ord("]"), ord(",")
_QUOTE, _BACKSLASH = ord('"'), ord("\\")
#: +1 for an opening bracket, -1 for a closing one: its running sum is the nesting depth
BRACKET_STEP = np.zeros(256, dtype=np.int8)
BRACKET_STEP[[ord("["), ord("{")]] = 1
BRACKET_STEP[[ord("]"), ord("}")]] = -1
_KEY_BEFORE = re.compile(rb'"((?:[^"\\]|\\.)*)"\s*:\s*$')


def string_quotes(codes: np.ndarray) -> np.ndarray:
    """Positions of the quotes that open or close a string literal in valid JSON text (vectorised)."""
    quotes = np.flatnonzero(codes == _QUOTE)
    backslashes = np.flatnonzero(codes == _BACKSLASH)
    if quotes.size and backslashes.size:
        # a quote right after a run of an odd number of backslashes is escaped, part of its string
        breaks = np.flatnonzero(np.diff(backslashes) != 1)
        run_ends = backslashes[np.r_[breaks, backslashes.size - 1]]
        run_lengths = run_ends - backslashes[np.r_[0, breaks + 1]] + 1
        run = np.minimum(np.searchsorted(run_ends, quotes - 1), run_ends.size - 1)
        escaped = (run_ends[run] == quotes - 1) & (run_lengths[run] % 2 == 1)
        quotes = quotes[~escaped]
    return quotes


def outside_strings(codes: np.ndarray) -> np.ndarray:
    """For each byte of valid JSON text, whether it lies outside string literals (vectorised)."""
    toggles = np.zeros(codes.size, dtype=np.uint8)
    toggles[string_quotes(codes)] = 1
    return np.bitwise_xor.accumulate(toggles) == 0


def parse_in_slices(
    body: bytes,
    outside: np.ndarray | None = None,
    slice_bytes: int = SLICE_BYTES,
    max_items: int | None = None,
) -> Any:
    """``body`` parsed with its main array in slices, or None when it has no such array or is not valid.

    ``outside`` is, for each byte, whether it lies outside string literals (computed when not given).
    A main array of more than ``max_items`` elements is refused (413) before any of it is parsed.
    """
    codes = np.frombuffer(body, dtype=np.uint8)
    outside = outside_strings(codes) if outside is None else outside
    depth = np.cumsum(np.where(outside, BRACKET_STEP[codes], 0), dtype=np.int32)
    opens = np.flatnonzero(outside & (codes == _OPEN) & (depth <= 2))
    if not opens.size:
        return None
    start = int(opens[0])
    level = int(depth[start])
    below = np.flatnonzero(depth[start:] < level)
    if not below.size:
        return None
    end = start + int(below[0])  # the array's closing bracket
    if codes[end] != _CLOSE or 2 * (end - start) < len(body):
        return None
    inside = slice(start + 1, end)
    separators = outside[inside] & (codes[inside] == _COMMA) & (depth[inside] == level)
    commas = start + 1 + np.flatnonzero(separators)
    if max_items is not None and commas.size + 1 > max_items:
        raise BodyError(
            f"body: its batch holds {commas.size + 1} items, more than the {max_items} one body may "
            "hold: send it in smaller batches",
            413,
        )
    bounds = [start, end]
    if commas.size:
        wanted = np.arange(start + slice_bytes, end, slice_bytes)
        cuts = np.unique(commas[np.minimum(np.searchsorted(commas, wanted), commas.size - 1)])
        bounds = [start, *map(int, cuts), end]
    elements: list[Any] = []
    try:
        for before, after in itertools.pairwise(bounds):
            part = orjson.loads(b"[" + body[before + 1 : after] + b"]")
            if not part and len(bounds) > 2:  # an empty element beside a comma: not JSON
                return None
            elements.extend(part)
        skeleton = orjson.loads(body[: start + 1] + body[end:])
    except orjson.JSONDecodeError:
        return None
    if level == 1:
        return elements if skeleton == [] else None
    key = _KEY_BEFORE.search(body, max(0, start - 1000), start)
    if key is None or not isinstance(skeleton, dict):
        return None
    name = orjson.loads(b'"' + key.group(1) + b'"')
    if skeleton.get(name) != []:
        return None
    skeleton[name] = elements
    return skeleton
