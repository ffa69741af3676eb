"""JSON text of an event's features for the SQLite store: orjson when it is installed.

Encoding the features was the larger part of the store writer's time per event with the standard
library's encoder (about 4.4 us for the demo's 11 features, against 0.6 with orjson, see
``bench/RESULTS.md``). orjson comes with the ``service`` extra, which the store writer runs in;
without it the standard encoder writes the text as before.

orjson takes only a flat object of text, numbers, booleans and nulls (what a checked event's
features are); both then write the same values in a different spelling (``1e16`` for ``1e+16``,
UTF-8 for ``\\u00e9``), which every reader of the column decodes to the same values. Where they
would differ the standard encoder writes the text, as before: orjson writes a float that is not
finite as ``null`` (the standard encoder writes ``NaN`` or ``Infinity``, read back as that float),
and it refuses integers beyond 64 bits, keys that are not text and lone surrogates. Anything else
(nested values, subclasses, numpy values) goes to the standard encoder, whose ``default`` hook and
errors stay as they were.

>>> object_json({"x": 1.5, "city": "Zürich", "n": None})
'{"x":1.5,"city":"Zürich","n":null}'
>>> object_json({"x": float("nan")})  # the standard encoder's spelling, read back as NaN
'{"x":NaN}'

:func:`object_jsons` gives the texts of many objects, checking the values of them all at once.

>>> object_jsons([{"x": 1.5}, {"x": "a", "y": None}]), object_jsons([{"x": float("inf")}])
(['{"x":1.5}', '{"x":"a","y":null}'], None)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from itertools import chain
from typing import Any

from modelmon.store.documents import encode_json

__all__ = ["finite_floats", "object_json", "object_jsons"]

try:
    import orjson
except ImportError:  # pragma: no cover - the service extra brings it
    orjson = None  # type: ignore[assignment]


_PLAIN = frozenset({str, int, float, bool, type(None)})
_ZERO = 0.0


def finite_floats(values: Iterable[Any]) -> bool:
    """Whether no float among ``values`` is NaN or an infinity, without a Python loop: ``0.0 * x`` is
    NaN for those and 0 for any other float, so the sum of them all is 0 when every one is finite."""
    return sum(map(_ZERO.__mul__, filter(float.__instancecheck__, values))) == 0.0


def _finite(value: Any) -> bool:
    return type(value) is not float or math.isfinite(value)


def object_json(value: Any) -> str:
    """``value`` as JSON text: the standard encoder's, or orjson's for a flat object of plain values."""
    if (
        orjson is not None
        and type(value) is dict
        and all(map(_PLAIN.__contains__, map(type, value.values())))
    ):
        try:
            text = orjson.dumps(value)
        except TypeError:  # orjson.JSONEncodeError: see the module's docstring
            pass
        else:
            # orjson writes null for None and for NaN or an infinity: look for the latter only then
            if b"null" not in text or all(map(_finite, value.values())):
                return text.decode()
    return encode_json(value)


def object_jsons(values: list[Any]) -> list[str] | None:
    """``[object_json(value) for value in values]`` when the values of all, checked at once, are
    plain and finite; None when some value needs :func:`object_json`'s own look (or may fail there).

    When every value is a flat object of plain values and no float among them is NaN or an
    infinity, each text is orjson's, what :func:`object_json` gives it.
    """
    if orjson is None or set(map(type, values)) != {dict}:
        return None
    items = list(chain.from_iterable(map(dict.values, values)))
    kinds = set(map(type, items))
    if not kinds <= _PLAIN or not finite_floats(items):
        return None
    try:
        return [orjson.dumps(value).decode() for value in values]
    except TypeError:  # orjson.JSONEncodeError: an integer beyond 64 bits, a key not text, ...
        return None
