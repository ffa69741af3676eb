"""Checking ingested events and turning them into rows of the model's schema.

An event (see the HTTP API) carries ``features``, ``prediction`` and optionally ``id``,
``timestamp``, ``probabilities``, ``target``, ``latency_ms``, ``attributions`` and ``metadata``.
Each invalid event is rejected with its index and the reason; the valid ones in the same batch
are kept.

>>> from modelmon.schema import Schema
>>> schema = Schema(numerical=["distance"], prediction="duration", id="ride_id")
>>> batch = check_events([{"features": {"distance": 2.5}, "prediction": 11.0}, {"prediction": 3}], schema)
>>> [row["distance"] for row in batch.rows], batch.rejected
([2.5], [{'index': 1, 'error': 'features: missing'}])

Events are checked against the API's :data:`~modelmon.service.api_schema.EVENT` schema first (the
one ``/openapi.json`` shows), then for what a schema cannot say: timestamps that parse and lie
between :data:`~modelmon.service.api_schema.EARLIEST` and ``LATEST`` and no further ahead of the
time of receipt than a tolerance (a timestamp from a clock that runs ahead would place the event
where no window reaches it), integers within 64 bits, names the store reserves.

>>> from datetime import datetime, UTC
>>> now = datetime(2026, 1, 1, tzinfo=UTC)
>>> ahead = {"timestamp": "2026-01-01T02:00:00Z", "features": {"distance": 1.0}, "prediction": 1.0}
>>> check_events([ahead], schema, now, future_tolerance=300).rejected[0]["error"][:61]
"timestamp: '2026-01-01T02:00:00Z' is 7200 s ahead of the time"
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any

from modelmon.errors import EventError
from modelmon.schema import Schema
from modelmon.service.api_schema import EVENT
from modelmon.service.body import INT64_MAX, INT64_MIN
from modelmon.service.event_columns import check_usual_batch, valid_text
from modelmon.service.timestamps import parse_timestamp
from modelmon.service.validation import SchemaCheck
from modelmon.store.documents import EVENT_FIELDS, RESERVED_COLUMNS, CheckedEvent, checked_event, to_utc

__all__ = [
    "MAX_METADATA_DEPTH",
    "REJECT_REASONS",
    "CheckedBatch",
    "check_each",
    "check_event",
    "check_events",
    "check_target",
    "parse_timestamp",
    "records_to_events",
]

#: keys a client may send: the stored fields but those the service fills in
_EVENT_KEYS = frozenset(EVENT_FIELDS) - {"model", "received_at"}
_SCALAR = (str, int, float, bool, type(None))
_PLAIN_TYPES = frozenset(_SCALAR)
#: fields whose integers must fit in 64 bits, as the stores keep them
_INTEGER_FIELDS = ("prediction", "target", "id", "latency_ms")
#: how deep ``metadata`` may nest (objects and lists); deeper events are rejected
MAX_METADATA_DEPTH = 32
#: the reason codes of rejected events (``modelmon_events_rejected_total{reason}``): a fixed list, so
#: no input can add a series; an error about another field is counted as ``invalid``
REJECT_REASONS = (
    "event",
    "unknown_keys",
    "features",
    "prediction",
    "id",
    "timestamp",
    "timestamp_ahead",
    "latency_ms",
    "probabilities",
    "attributions",
    "metadata",
    "target",
    "invalid",
)
_AHEAD = "ahead of the time of receipt"


def reason_code(error: str) -> str:
    """The reason code of a rejection message.

    >>> reason_code("features.x: expected a number"), reason_code("event: unknown keys ['k1']; valid: ...")
    ('features', 'unknown_keys')
    """
    # the API schema's messages name the event itself as their root: "event: unknown keys [...]"
    rest = error.removeprefix("event: ")
    if rest.startswith("unknown keys"):
        return "unknown_keys"
    if rest.startswith("expected an event object") or rest != error:
        return "event"
    field_name = error.split(":", 1)[0].split(".", 1)[0]
    if field_name == "timestamp" and _AHEAD in error:
        return "timestamp_ahead"
    return field_name if field_name in REJECT_REASONS else "invalid"


def _nesting_depth(value: Any, limit: int) -> int:
    """How deep objects and lists nest in ``value``, counting up to ``limit + 1`` (no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping | list | tuple):
            deepest = max(deepest, depth)
            if depth > limit:
                return depth
            children = item.values() if isinstance(item, Mapping) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


_EVENT_CHECK = SchemaCheck(EVENT, root="event")


@dataclass
class CheckedBatch:
    """Valid events as schema rows and as store documents, and the rejected ones."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    documents: list[CheckedEvent] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    unexpected: int = 0  # values of features the schema does not name


def _check_integer(value: Any, where: str) -> None:
    # the stores keep integers in 64 bits (SQLite, BSON); a larger one would fail its whole batch's write.
    # A subclass of int (from a caller of the Python API) is an integer too.
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        raise EventError(f"{where}: the integer {int(value)} is outside the 64-bit range")


def _check_text(value: Any, where: str) -> None:
    """Refuse text that UTF-8 cannot encode: a lone surrogate, which a caller of the Python API can
    put in a string (a JSON body cannot: its parser refuses one). No store could keep the event."""
    if isinstance(value, str) and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            code = ord(value[exc.start])
            raise EventError(
                f"{where}: the text holds a lone surrogate (U+{code:04X}) at position {exc.start}, "
                "which is not valid Unicode: send valid text"
            ) from None


def _check_texts(value: Any, where: str) -> None:
    """:func:`_check_text` on every key and value nested in ``value`` (objects and lists)."""
    stack = [(value, where)]
    while stack:
        item, place = stack.pop()
        if isinstance(item, Mapping):
            for key, child in item.items():
                _check_text(key, f"{place} (a key)")
                stack.append((child, f"{place}.{key}"))
        elif isinstance(item, list | tuple):
            stack.extend((child, f"{place}[{index}]") for index, child in enumerate(item))
        else:
            _check_text(item, place)


def _check_features(features: Mapping[Any, Any]) -> None:
    """Each feature's value a number, text, boolean or null, integers within 64 bits."""
    values = features.values()
    # the usual features, of plain types and integers in range, checked without a Python loop
    if all(map(_PLAIN_TYPES.__contains__, map(type, values))):
        integers = [value for value in values if type(value) is int]
        in_range = not integers or (min(integers) >= INT64_MIN and max(integers) <= INT64_MAX)
        if in_range and valid_text(filter(str.__instancecheck__, chain(values, features))):
            return
    for name, value in features.items():  # the first feature at fault, named
        _check_text(name, f"features.{name!r}")
        if not isinstance(value, _SCALAR):
            raise EventError(
                f"features.{name}: expected a number, text, boolean or null, got {type(value).__name__}"
            )
        _check_integer(value, f"features.{name}")
        _check_text(value, f"features.{name}")


def _number_map(value: Any, where: str) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise EventError(f"{where}: expected an object of name -> number, got {type(value).__name__}")
    result = {}
    for key, number in value.items():
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise EventError(f"{where}.{key}: expected a number, got {type(number).__name__}")
        _check_integer(number, f"{where}.{key}")
        _check_text(key, f"{where} (a key)")
        result[str(key)] = float(number)
    return result


def _ahead_error(value: Any, ahead: timedelta, tolerance: float) -> EventError:
    shown = repr(value[:80]) if isinstance(value, str) else repr(value)
    return EventError(
        f"timestamp: {shown} is {ahead.total_seconds():.0f} s {_AHEAD}, more than "
        f"the {tolerance:g} s allowed (ingest.future_tolerance_seconds): set the sender's clock right, "
        "or leave the timestamp out to use the time of receipt"
    )


def _stored_time(moment: datetime) -> datetime:
    """``moment`` as the stores keep it (UTC, to the millisecond)."""
    stored = to_utc(moment)
    assert stored is not None
    return stored


def check_event(
    event: Any,
    schema: Schema,
    received_at: datetime,
    future_tolerance: float | None = None,
    stored_received_at: datetime | None = None,
) -> tuple[dict[str, Any], CheckedEvent]:
    """One event as (schema row, store document), or :class:`EventError` saying what is wrong.

    With ``future_tolerance`` (seconds), a timestamp further ahead of ``received_at`` is an error.
    ``stored_received_at``: ``to_utc(received_at)``, when the caller has it (once for a batch).
    """
    try:
        problem = _EVENT_CHECK.first_error(event)
    except ValueError:
        # values JSON has no word for (numpy scalars, datetimes) from a Python caller: the checks below
        # still apply to them
        problem = None
    if problem is not None:
        if problem.startswith("timestamp:"):
            parse_timestamp(event["timestamp"])  # its message says more (the range, milliseconds)
        raise EventError(problem)
    if type(event) is not dict and not isinstance(event, Mapping):
        raise EventError(f"expected an event object, got {type(event).__name__}")
    if not _EVENT_KEYS.issuperset(event):
        unknown = set(event) - _EVENT_KEYS
        raise EventError(f"unknown keys {sorted(unknown)}; valid keys: {sorted(_EVENT_KEYS)}")
    features = event.get("features")
    if features is None:
        raise EventError("features: missing (expected an object of feature name -> value)")
    if type(features) is not dict and not isinstance(features, Mapping):
        raise EventError(f"features: expected an object, got {type(features).__name__}")
    if not RESERVED_COLUMNS.isdisjoint(features):
        # the store refuses them too; caught here, the event is rejected instead of its whole batch
        # failing to be written later
        clash = sorted(RESERVED_COLUMNS.intersection(features))
        raise EventError(f"features: names {clash} are reserved column names")
    _check_features(features)
    if "prediction" not in event:
        raise EventError("prediction: missing")
    prediction = event["prediction"]
    if not isinstance(prediction, _SCALAR):
        raise EventError(f"prediction: expected a number or a label, got {type(prediction).__name__}")
    event_id = event.get("id")
    if event_id is not None and not isinstance(event_id, str | int):
        raise EventError(f"id: expected text, got {type(event_id).__name__}")
    for where in _INTEGER_FIELDS:
        value = event.get(where)
        _check_integer(value, where)
        _check_text(value, where)
    event_id = str(event_id) if event_id is not None else uuid.uuid4().hex
    timestamp = parse_timestamp(event["timestamp"]) if event.get("timestamp") is not None else received_at
    if future_tolerance is not None and timestamp - received_at > timedelta(seconds=future_tolerance):
        raise _ahead_error(event["timestamp"], timestamp - received_at, future_tolerance)
    latency = event.get("latency_ms")
    if latency is not None and (
        isinstance(latency, bool) or not isinstance(latency, int | float) or latency < 0
    ):
        raise EventError(f"latency_ms: expected a non-negative number, got {latency!r}")
    probabilities = event.get("probabilities")
    if probabilities is not None and not (
        isinstance(probabilities, int | float) and not isinstance(probabilities, bool)
    ):
        probabilities = _number_map(probabilities, "probabilities")
    attributions = _number_map(event["attributions"], "attributions") if event.get("attributions") else None
    metadata = event.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise EventError(f"metadata: expected an object, got {type(metadata).__name__}")
    if metadata and _nesting_depth(metadata, MAX_METADATA_DEPTH) > MAX_METADATA_DEPTH:
        raise EventError(f"metadata: nested deeper than {MAX_METADATA_DEPTH} levels; send it flatter")
    if metadata:
        _check_texts(metadata, "metadata")
    target = event.get("target")
    if not isinstance(target, _SCALAR):
        raise EventError(f"target: expected a number or a label, got {type(target).__name__}")

    row: dict[str, Any] = dict(features)
    if schema.prediction:
        row[schema.prediction] = prediction
    if schema.target:
        row[schema.target] = target
    if schema.id:
        row[schema.id] = event_id
    if schema.timestamp:
        row[schema.timestamp] = timestamp
    if probabilities is not None and schema.probabilities:
        if isinstance(probabilities, dict):
            for column in schema.probabilities:
                label = column.removeprefix("proba_")
                row[column] = probabilities.get(column, probabilities.get(label))
        else:
            row[schema.probabilities[0]] = float(probabilities)
    if attributions:
        for name, value in attributions.items():
            row[f"attr_{name}"] = value
    row["__id"], row["__timestamp"], row["__latency_ms"] = event_id, timestamp, latency
    # checked as the store checks an event (and more): the store writer takes the document as it is
    stored_at = _stored_time(received_at) if stored_received_at is None else stored_received_at
    document = checked_event(
        event_id=event_id,
        timestamp=stored_at if timestamp is received_at else _stored_time(timestamp),
        features=features,
        prediction=prediction,
        probabilities=probabilities,
        target=target,
        latency_ms=latency,
        attributions=attributions,
        metadata=dict(metadata) if metadata else None,
        received_at=stored_at,
    )
    return row, document


def check_target(item: Any) -> tuple[str, Any]:
    """A late target ``{"id": ..., "target": ...}`` as ``(event id, target)``, or :class:`EventError`.

    >>> check_target({"id": 7, "target": 1.5})
    ('7', 1.5)
    >>> check_target({"id": "a", "target": [1]})
    Traceback (most recent call last):
    ...
    modelmon.errors.EventError: target: missing or not a number or label
    """
    if not isinstance(item, Mapping):
        raise EventError(f"expected an object with id and target, got {type(item).__name__}")
    event_id = item.get("id")
    if event_id is None:
        raise EventError("id: missing")
    if not isinstance(event_id, str | int):
        raise EventError(f"id: expected text or an integer, got {type(event_id).__name__}")
    if "target" not in item or not isinstance(item["target"], _SCALAR):
        raise EventError("target: missing or not a number or label")
    for where in ("id", "target"):
        _check_integer(item[where], where)
        _check_text(item[where], where)
    return str(event_id), item["target"]


def check_events(
    events: Sequence[Any],
    schema: Schema,
    received_at: datetime | None = None,
    future_tolerance: float | None = None,
) -> CheckedBatch:
    """Check a batch; valid events are kept even when others are rejected."""
    received_at = received_at or datetime.now(UTC)
    stored_at = _stored_time(received_at)
    # a single event is checked sooner on its own than as a column of one (the columns' fixed cost)
    usual = (
        check_usual_batch(events, schema, received_at, stored_at, future_tolerance)
        if len(events) > 1
        else None
    )
    if usual is not None:  # every event valid: checked field by field across the batch
        return CheckedBatch(rows=usual[0], documents=usual[1])
    return check_each(events, schema, received_at, future_tolerance, stored_at)


def check_each(
    events: Sequence[Any],
    schema: Schema,
    received_at: datetime,
    future_tolerance: float | None = None,
    stored_at: datetime | None = None,
) -> CheckedBatch:
    """Check a batch event by event (what :func:`check_events` does with a batch it cannot check
    field by field: each bad event is named); valid events are kept even when others are rejected."""
    stored_at = _stored_time(received_at) if stored_at is None else stored_at
    batch = CheckedBatch()
    for index, event in enumerate(events):
        try:
            row, document = check_event(event, schema, received_at, future_tolerance, stored_at)
        except EventError as exc:
            batch.rejected.append({"index": index, "error": str(exc)})
            reason = reason_code(str(exc))
            batch.reasons[reason] = batch.reasons.get(reason, 0) + 1
            continue
        batch.rows.append(row)
        batch.documents.append(document)
    return batch


def records_to_events(records: Sequence[Any], schema: Schema) -> list[Any]:
    """Map the old ``/iterate`` call's flat records onto events using the schema's column roles."""
    events: list[Any] = []
    for record in records:
        if not isinstance(record, Mapping):
            events.append(record)  # rejected with its index by check_events
            continue
        event: dict[str, Any] = {
            "features": {name: record.get(name) for name in schema.features if name in record}
        }
        # as the old service, a record without the prediction column is kept (its prediction empty)
        event["prediction"] = record.get(schema.prediction) if schema.prediction else None
        if schema.target and record.get(schema.target) is not None:
            event["target"] = record[schema.target]
        # an ``id`` field names the event even when the schema maps no id column (late targets join by it)
        id_column = schema.id or "id"
        if record.get(id_column) is not None:
            event["id"] = record[id_column]
        if schema.timestamp and record.get(schema.timestamp) is not None:
            event["timestamp"] = record[schema.timestamp]
        probabilities = {name: record[name] for name in schema.probabilities if record.get(name) is not None}
        if probabilities:
            event["probabilities"] = probabilities
        for name in set(schema.segments) | set(schema.sensitive):
            if name in record and name not in event["features"]:
                event["features"][name] = record[name]
        events.append(event)
    return events
