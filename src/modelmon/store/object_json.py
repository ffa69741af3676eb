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
"""

from __future__ import annotations

import math
from typing import Any

from modelmon.store.documents import encode_json

__all__ = ["object_json"]

try:
    import orjson
except ImportError:  # pragma: no cover - the service extra brings it
    orjson = None  # type: ignore[assignment]


_PLAIN = frozenset({str, int, float, bool, type(None)})


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
