"""Turn logged events into JSON text, on the sender's thread rather than the caller's.

:meth:`Monitor.log` only builds a dict; this module converts what prediction code typically hands over
(numpy scalars and arrays, pandas values, datetimes, decimals, UUIDs, sets) into JSON, maps NaN and
infinity to ``null`` (JSON has neither; a missing value is what they mean here) and refuses anything else
with an :class:`~modelmon.errors.InputError` that names the field.

>>> import datetime, decimal
>>> print(encode_event({"id": "a", "timestamp": 0.0, "prediction": {1, 2},
...                     "features": {"x": float("nan"), "d": decimal.Decimal("1.5")}}))
{"id": "a", "timestamp": "1970-01-01T00:00:00+00:00", "prediction": [1, 2], "features": {"x": null, "d": 1.5}}
>>> encode_event({"id": "b2", "features": {"when": datetime.date(2024, 5, 1)}, "prediction": 1})
'{"id": "b2", "features": {"when": "2024-05-01"}, "prediction": 1}'
>>> encode_event({"id": "c3", "features": {"x": object()}, "prediction": 1})
Traceback (most recent call last):
...
modelmon.errors.InputError: event c3: field 'features' is not JSON-serializable: object of type object
"""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import math
import uuid
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from modelmon.errors import InputError

__all__ = ["encode_event", "encode_target", "to_jsonable"]

_SCALARS = (str, int, float, bool, type(None))


def to_jsonable(value: Any) -> Any:
    """One step of conversion for a value ``json`` cannot write; ``TypeError`` when there is none."""
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID | PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    # numpy and pandas without importing them: arrays and Series have tolist(), scalars have item().
    if hasattr(value, "tolist") and callable(value.tolist):
        return value.tolist()
    if hasattr(value, "item") and callable(value.item) and hasattr(value, "dtype"):
        return value.item()
    if hasattr(value, "isoformat") and callable(value.isoformat):  # pandas.Timestamp, numpy datetime
        return value.isoformat()
    raise TypeError(f"object of type {type(value).__name__}")


def _clean(value: Any, depth: int = 0) -> Any:
    """The slow path: walk the value, convert every part, and turn NaN/inf into None."""
    if depth > 64:
        raise TypeError("nested more than 64 levels deep")
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, dict):
        return {_key(k): _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v, depth + 1) for v in value]
    return _clean(to_jsonable(value), depth + 1)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    converted = _clean(key)
    return converted if isinstance(converted, str) else json.dumps(converted)


def _dumps(record: dict[str, Any], what: str) -> str:
    try:
        return json.dumps(record, allow_nan=False, default=to_jsonable)
    except (TypeError, ValueError):
        pass  # NaN, a non-string key or an odd type somewhere: find it on the slow path
    cleaned = {}
    for field, value in record.items():
        try:
            cleaned[field] = _clean(value)
        except (TypeError, ValueError, RecursionError) as exc:
            raise InputError(f"{what}: field {field!r} is not JSON-serializable: {exc}") from exc
    return json.dumps(cleaned, allow_nan=False)


def encode_event(event: dict[str, Any]) -> str:
    """The JSON text of one event; a numeric timestamp (seconds since the epoch) becomes ISO 8601 UTC."""
    timestamp = event.get("timestamp")
    if isinstance(timestamp, int | float) and not isinstance(timestamp, bool):
        event = dict(event)
        try:
            event["timestamp"] = datetime.datetime.fromtimestamp(timestamp, datetime.UTC).isoformat()
        except (OverflowError, OSError, ValueError) as exc:
            raise InputError(f"event {event.get('id')}: timestamp {timestamp!r} is out of range") from exc
    return _dumps(event, f"event {event.get('id')}")


def encode_target(target: dict[str, Any]) -> str:
    """The JSON text of one late target ``{"id": ..., "target": ...}``."""
    return _dumps(target, f"target for event {target.get('id')}")
