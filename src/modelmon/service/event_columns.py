"""A batch of usual events checked field by field across the batch instead of event by event.

Most batches hold only events of the usual shape: ``features`` of plain values, ``prediction`` and
any of ``id``, ``timestamp``, ``target``, ``latency_ms`` and a number for ``probabilities``. For such
a batch, the checks :func:`~modelmon.service.events.check_event` makes on each event are made once
on each field's values across the batch (their types gathered in one pass, the integers' range from
their least and greatest, the floats' finiteness from a sum of zeros) and the rows and documents are
built in one loop: the same rows and documents as the per-event check, for a fraction of its work.

Every check here is at least as strict as the per-event check's: a batch with any event outside the
usual shape, or any value these checks refuse (a float that is not finite, an integer beyond 64
bits, an unknown key, a bad timestamp), gives ``None``, and the caller checks it event by event,
whose messages name each bad event. So when there is a result, every event of the batch is valid.

>>> from datetime import UTC, datetime
>>> from modelmon.schema import Schema
>>> schema = Schema(numerical=["x"], prediction="y")
>>> now = datetime(2026, 1, 1, tzinfo=UTC)
>>> event = {"id": 7, "features": {"x": 1.5}, "prediction": 2.0}
>>> rows, documents = check_usual_batch([event], schema, now, now)
>>> rows[0]["y"], documents[0]["id"]
(2.0, '7')
>>> check_usual_batch([{"features": {"x": float("nan")}, "prediction": 2.0}], schema, now, now) is None
True
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any

from modelmon.errors import EventError
from modelmon.schema import Schema
from modelmon.service.body import INT64_MAX, INT64_MIN
from modelmon.service.timestamps import EARLIEST_SECONDS, LATEST_SECONDS, parse_timestamp
from modelmon.store.documents import RESERVED_COLUMNS, CheckedEvent
from modelmon.store.object_json import finite_floats

__all__ = ["check_usual_batch", "valid_text"]

#: the fields of a usual event; an event with any other (``attributions``, ``metadata``) is checked alone
USUAL_FIELDS = frozenset(
    {"id", "timestamp", "features", "prediction", "target", "latency_ms", "probabilities"}
)
_PLAIN = frozenset({str, int, float, bool, type(None)})
_NUMBER_OR_NONE = frozenset({int, float, type(None)})
_ID_KINDS = frozenset({str, int})
_MAX_ID_LENGTH = 512  # the API schema's maxLength of an id
_MISSING: Any = object()  # an id left out (a new one is drawn), unlike an id sent as null (refused)


def _in_range(values: list[Any], kinds: set[type]) -> bool:
    """Whether the integers of ``values`` fit in 64 bits and its floats are finite (``kinds``: its types)."""
    if int in kinds:
        integers = list(filter(int.__instancecheck__, values))  # booleans too, always in range
        if min(integers) < INT64_MIN or max(integers) > INT64_MAX:
            return False
    return float not in kinds or finite_floats(values)


def valid_text(texts: Iterable[str]) -> bool:
    """Whether UTF-8 can encode every text: none holds a lone surrogate, which a caller of the Python
    API can put in a string (a JSON body's parser refuses one) and no store can keep.

    >>> valid_text(["zone", "Zürich"]), valid_text(["\\udc80"])
    (True, False)
    """
    joined = "".join(texts)
    if joined.isascii():  # one flag of the string: no scan
        return True
    try:
        joined.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _plain(values: list[Any]) -> bool:
    """Whether every value is JSON's number (finite, 64-bit integers), valid text, boolean or null."""
    kinds = set(map(type, values))
    if str in kinds and not valid_text(filter(str.__instancecheck__, values)):
        return False
    return kinds <= _PLAIN and _in_range(values, kinds)


def _non_negative(values: list[Any]) -> bool:
    """Whether every value is null or a finite number, integers in 64 bits, none negative."""
    kinds = set(map(type, values))
    if not (kinds <= _NUMBER_OR_NONE and _in_range(values, kinds)):
        return False
    numbers = [value for value in values if value is not None] if type(None) in kinds else values
    return not numbers or min(numbers) >= 0


def _event_ids(ids: list[Any]) -> list[Any] | None:
    """The ids as text (``_MISSING`` where left out), or None when one is not a valid id."""
    kinds = set(map(type, ids))
    texts = ids if kinds == {str} else [value for value in ids if type(value) is str]
    if not kinds <= _ID_KINDS | {object}:
        return None
    if texts:
        joined = "".join(texts)
        if max(map(len, texts)) > _MAX_ID_LENGTH or "\x00" in joined or not valid_text((joined,)):
            return None
    if int in kinds and not _in_range(ids, {int}):
        return None
    return ids if kinds == {str} else [str(value) if type(value) is int else value for value in ids]


def _times(stamps: list[Any], received_at: datetime) -> list[datetime] | None:
    """The timestamps as UTC datetimes (the time of receipt where there is none), or None when one is bad."""
    kinds = set(map(type, stamps))
    if not kinds <= _NUMBER_OR_NONE | {str}:
        return None
    numbers = [value for value in stamps if type(value) in (int, float)] if kinds != {float} else stamps
    if numbers and not (
        _in_range(numbers, kinds) and min(numbers) >= EARLIEST_SECONDS and max(numbers) < LATEST_SECONDS
    ):
        return None
    try:
        return [
            received_at
            if value is None
            else datetime.fromtimestamp(value, tz=UTC)
            if type(value) is not str
            else parse_timestamp(value)
            for value in stamps
        ]
    except EventError:
        return None


def _stored(moment: datetime) -> datetime:
    # what store.documents.to_utc makes of an aware UTC datetime: it to the millisecond
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def check_usual_batch(
    events: Sequence[Any],
    schema: Schema,
    received_at: datetime,
    stored_at: datetime,
    future_tolerance: float | None = None,
) -> tuple[list[dict[str, Any]], list[CheckedEvent]] | None:
    """The rows and documents of a batch of valid usual events, or None: check it event by event.

    ``received_at``: the time of receipt; ``stored_at``: it as stored (``to_utc(received_at)``).
    """
    if not events or set(map(type, events)) != {dict}:
        return None
    fields = set(chain.from_iterable(events))
    if not fields <= USUAL_FIELDS or "features" not in fields or "prediction" not in fields:
        return None
    try:
        features = [event["features"] for event in events]
        predictions = [event["prediction"] for event in events]
    except KeyError:  # an event without one
        return None
    if set(map(type, features)) != {dict}:
        return None
    names = set(chain.from_iterable(features))
    if set(map(type, names)) - {str} or not RESERVED_COLUMNS.isdisjoint(names) or not valid_text(names):
        return None
    if not (_plain(list(chain.from_iterable(map(dict.values, features)))) and _plain(predictions)):
        return None
    count = len(events)
    nothing: list[Any] = [None] * count
    targets = [event.get("target") for event in events] if "target" in fields else nothing
    latencies = [event.get("latency_ms") for event in events] if "latency_ms" in fields else nothing
    probabilities = [event.get("probabilities") for event in events] if "probabilities" in fields else nothing
    if not (_plain(targets) and _non_negative(latencies)):
        return None
    if set(map(type, probabilities)) - _NUMBER_OR_NONE or not _plain(probabilities):
        return None
    ids = (
        _event_ids([event.get("id", _MISSING) for event in events]) if "id" in fields else [_MISSING] * count
    )
    if ids is None:
        return None
    if "timestamp" not in fields:
        times, stored_times = [received_at] * count, [stored_at] * count
    else:
        sent = _times([event.get("timestamp") for event in events], received_at)
        if sent is None:
            return None
        times = sent
        stored_times = [stored_at if moment is received_at else _stored(moment) for moment in times]
    # as check_event compares each event's time with the time of receipt (its own time included)
    if future_tolerance is not None and max(times) - received_at > timedelta(seconds=future_tolerance):
        return None
    if _MISSING in ids:  # drawn once the batch is known valid, as the per-event check draws them
        ids = [uuid.uuid4().hex if value is _MISSING else value for value in ids]
    return _build(
        schema, features, predictions, targets, ids, times, stored_times, latencies, probabilities, stored_at
    )


def _build(
    schema: Schema,
    features: list[dict[str, Any]],
    predictions: list[Any],
    targets: list[Any],
    ids: list[str],
    times: list[datetime],
    stored_times: list[datetime],
    latencies: list[Any],
    probabilities: list[Any],
    stored_at: datetime,
) -> tuple[list[dict[str, Any]], list[CheckedEvent]]:
    """Rows and documents with the keys, in the order, that ``check_event`` gives them."""
    prediction_column, target_column, id_column = schema.prediction, schema.target, schema.id
    time_column = schema.timestamp
    probability_column = schema.probabilities[0] if schema.probabilities else None
    rows: list[dict[str, Any]] = []
    documents: list[CheckedEvent] = []
    for values, prediction, target, event_id, moment, stored, latency, probability in zip(
        features, predictions, targets, ids, times, stored_times, latencies, probabilities, strict=True
    ):
        row = values.copy()
        if prediction_column:
            row[prediction_column] = prediction
        if target_column:
            row[target_column] = target
        if id_column:
            row[id_column] = event_id
        if time_column:
            row[time_column] = moment
        if probability is not None and probability_column:
            row[probability_column] = float(probability)
        row["__id"], row["__timestamp"], row["__latency_ms"] = event_id, moment, latency
        rows.append(row)
        documents.append(
            CheckedEvent(
                id=event_id,
                timestamp=stored,
                features=values.copy(),
                prediction=prediction,
                probabilities=probability,
                target=target,
                latency_ms=None if latency is None else float(latency),
                attributions=None,
                metadata=None,
                received_at=stored_at,
            )
        )
    return rows, documents
