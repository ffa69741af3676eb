"""The event document every store keeps, and the rules that make it: fields, times, plain values.

- timestamps are UTC and kept to the millisecond (MongoDB's precision); naive ones are taken as UTC;
- event ids are strings (``123`` and ``"123"`` are the same id); an event sent without one gets a
  fresh random id;
- values are plain JSON values (:func:`plain`); an event the service's ingest has checked already
  comes as a :class:`CheckedEvent` and is stored as it is, any other mapping is checked here
  (:func:`event_document`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from modelmon.errors import EventError, InputError

__all__ = [
    "EVENT_FIELDS",
    "RESERVED_COLUMNS",
    "CheckedEvent",
    "checked_event",
    "encode_json",
    "event_document",
    "first_of_each_id",
    "from_ms",
    "plain",
    "to_json",
    "to_ms",
    "to_utc",
    "utc_now",
]

#: fields of a stored event document
EVENT_FIELDS = (
    "model",
    "id",
    "timestamp",
    "features",
    "prediction",
    "probabilities",
    "target",
    "latency_ms",
    "attributions",
    "metadata",
    "received_at",
)

_FIELD_SET = frozenset(EVENT_FIELDS)

#: columns of a frame from :meth:`EventStore.read_frames` that are not features
RESERVED_COLUMNS = frozenset({"id", "timestamp", "prediction", "probability", "target", "latency_ms"})


def to_utc(value: datetime | str | None, what: str = "timestamp") -> datetime | None:
    """A timezone-aware UTC datetime truncated to the millisecond; naive input is taken as UTC.

    >>> to_utc("2024-05-01T12:00:00.123456+02:00")
    datetime.datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=datetime.timezone.utc)
    >>> to_utc(None) is None
    True
    """
    if value is None:
        return None
    moment: Any = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InputError(f"{what} {value!r} is not an ISO 8601 date and time") from exc
    if not isinstance(moment, datetime):
        raise InputError(f"{what} must be a datetime or an ISO 8601 string, got {type(value).__name__}")
    if isinstance(moment, pd.Timestamp):
        moment = moment.to_pydatetime()
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def utc_now() -> datetime:
    """The current time as the stores keep it (UTC, to the millisecond)."""
    now = to_utc(datetime.now(UTC))
    assert now is not None
    return now


def to_ms(value: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime (how SQLite stores time)."""
    return (value - _EPOCH) // _ONE_MS


def from_ms(value: int) -> datetime:
    """The UTC datetime of a number of milliseconds since the epoch."""
    return _EPOCH + value * _ONE_MS


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = pd.Timedelta(milliseconds=1).to_pytimedelta()


_SCALARS = frozenset({str, int, float, bool, type(None)})


def plain(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into Python ones, so JSON and BSON take it.

    >>> import numpy as np
    >>> plain({"a": np.int64(3), "b": [np.float32(0.5)]})
    {'a': 3, 'b': [0.5]}
    """
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict and all(map(_SCALARS.__contains__, map(type, value.values()))):
        # the usual flat dict of plain values: checked in C, copied without a Python loop
        return (
            value.copy() if all(map(str.__instancecheck__, value)) else {str(k): v for k, v in value.items()}
        )
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        return plain(value.tolist())
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


#: one encoder for every call: building one per call costs more than encoding a small event
_ENCODER = json.JSONEncoder(default=_json_default, separators=(",", ":"))
encode_json = _ENCODER.encode


def to_json(value: Any, what: str) -> str:
    """JSON text of ``value`` (numpy values allowed), or an :class:`InputError` naming ``what``."""
    try:
        return encode_json(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} cannot be stored as JSON: {exc}") from exc


class CheckedEvent(dict[str, Any]):
    """The stored fields of an event but its model, from values checked already as
    :func:`event_document` checks an event (the service's ingest checks more): built by
    :func:`checked_event`, taken by :func:`event_document` as they are.

    Every other mapping, the journal's records read back from disk among them, is checked: a
    store never takes an unchecked plain ``dict`` as it is.
    """

    __slots__ = ()


def checked_event(
    *,
    event_id: Any,
    timestamp: datetime,
    features: Mapping[Any, Any],
    prediction: Any = None,
    probabilities: Any = None,
    target: Any = None,
    latency_ms: Any = None,
    attributions: Any = None,
    metadata: Any = None,
    received_at: datetime,
) -> CheckedEvent:
    """The stored fields of an event whose values the caller checked (``timestamp`` and
    ``received_at``: :func:`to_utc` values): JSON and BSON values, an id (a new one when None).

    >>> document = checked_event(event_id=7, timestamp=to_utc("2024-01-01T00:00:00Z"), features={"x": 1.0},
    ...                          received_at=to_utc("2024-01-01T00:00:01Z"))
    >>> stored = event_document("m", document, 0, utc_now())
    >>> stored == event_document("m", dict(document), 0, utc_now()), stored["id"]
    (True, '7')
    """
    scalars = _SCALARS  # a plain scalar is its own plain value: no call for the usual fields
    return CheckedEvent(
        id=uuid.uuid4().hex if event_id is None else str(event_id),
        timestamp=timestamp,
        features=plain(features if type(features) is dict else dict(features)),
        prediction=prediction if type(prediction) in scalars else plain(prediction),
        probabilities=(
            probabilities
            if type(probabilities) in scalars
            else plain(dict(probabilities) if isinstance(probabilities, Mapping) else probabilities)
        ),
        target=target if type(target) in scalars else plain(target),
        latency_ms=None if latency_ms is None else float(latency_ms),
        attributions=None if attributions is None else plain(attributions),
        metadata=None if metadata is None else plain(metadata),
        received_at=received_at,
    )


def event_document(model: str, event: Mapping[str, Any], index: int, now: datetime) -> dict[str, Any]:
    """Check one event and return the document every backend stores (``now``: a :func:`to_utc` value).

    A :class:`CheckedEvent` is taken as it is, with the model.

    >>> doc = event_document("m", {"id": 7, "timestamp": "2024-01-01T00:00:00Z", "features": {"x": 1.0},
    ...                            "prediction": 2.0, "probabilities": {1: 0.9}}, 0, datetime.now(UTC))
    >>> doc["id"], doc["timestamp"].isoformat(), doc["probabilities"]
    ('7', '2024-01-01T00:00:00+00:00', {'1': 0.9})
    """
    if type(event) is CheckedEvent:
        return {"model": model, **event}
    if not isinstance(event, Mapping):
        raise EventError(f"event {index}: expected an object, got {type(event).__name__}", index)
    unknown = event.keys() - _FIELD_SET
    if unknown:
        raise EventError(
            f"event {index}: unknown fields {sorted(unknown)}; known: {list(EVENT_FIELDS)}", index
        )
    features = event.get("features")
    if not isinstance(features, Mapping):
        raise EventError(f"event {index}: 'features' must be an object of feature name -> value", index)
    clash = RESERVED_COLUMNS.intersection(features) if not RESERVED_COLUMNS.isdisjoint(features) else None
    if clash:
        raise EventError(f"event {index}: feature names {sorted(clash)} are reserved column names", index)
    probabilities = event.get("probabilities")
    if not (probabilities is None or isinstance(probabilities, int | float | Mapping)):
        raise EventError(f"event {index}: 'probabilities' must be a number, an object or null", index)
    try:
        timestamp = to_utc(event.get("timestamp"), f"event {index} timestamp") or now
    except InputError as exc:
        raise EventError(str(exc), index) from exc
    fields = checked_event(
        event_id=event.get("id"),
        timestamp=timestamp,
        features=features,
        prediction=event.get("prediction"),
        probabilities=probabilities,
        target=event.get("target"),
        latency_ms=event.get("latency_ms"),
        attributions=event.get("attributions"),
        metadata=event.get("metadata"),
        received_at=now if event.get("received_at") is None else _received_at(event, index, now),
    )
    return {"model": model, **fields}


def first_of_each_id(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``documents`` without the later ones of a repeated id (the first write wins within a batch too).

    >>> batch = [{"id": "a", "n": 1}, {"id": "b", "n": 2}, {"id": "a", "n": 3}]
    >>> [doc["n"] for doc in first_of_each_id(batch)]
    [1, 2]
    """
    seen: set[Any] = set()
    unique = []
    for doc in documents:
        if doc["id"] not in seen:
            seen.add(doc["id"])
            unique.append(doc)
    return unique


def _received_at(event: Mapping[str, Any], index: int, now: datetime) -> datetime:
    try:
        return to_utc(event.get("received_at"), f"event {index} received_at") or now
    except InputError as exc:
        raise EventError(str(exc), index) from exc
