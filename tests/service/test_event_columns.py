"""A batch checked field by field across the batch gives what checking it event by event gives: the same
rows and documents (keys in the same order, values of the same types), the same rejections."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from modelmon.schema import Schema
from modelmon.service import event_columns
from modelmon.service.api_schema import EARLIEST, LATEST
from modelmon.service.events import check_each, check_events

RECEIVED = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
NOW = RECEIVED.timestamp()
SCHEMAS = [
    Schema(numerical=["a"], categorical=["b"], prediction="p", target="y", id="rid", timestamp="ts"),
    Schema(numerical=["a"], prediction="p", probabilities=["proba_1"], task="classification"),
    Schema(numerical=["a", "b"]),
]
_MISSING = object()

# values an event's fields take in a valid event, and values that some check refuses or that the
# field-by-field check leaves to the per-event one
GOOD: dict[str, list[Any]] = {
    "scalar": [1.5, -2, 0, 0.0, -0.0, True, False, None, "cat", "", 2**63 - 1, -(2**63), 1e308, "Zürich"],
    "id": ["a1", 5, 0, -(2**63), "y" * 512, "e\n", _MISSING],
    "timestamp": [
        _MISSING, None, NOW - 3600.5, int(NOW) - 10, NOW + 100, "2026-03-01T11:00:00Z", "2026-03-01 10:00:00",
        "2026-03-01T13:59:59.999999+02:00", EARLIEST.timestamp(), "1900-01-01T00:00:00Z",
    ],
    "latency_ms": [_MISSING, None, 0, -0.0, 3, 2.5, 1e300],
    "probabilities": [_MISSING, None, 0.25, 1, 0],
    "target": [_MISSING, None, 1.0, "no", 3, False],
}  # fmt: skip
BAD: dict[str, list[Any]] = {
    "scalar": [float("nan"), float("inf"), -float("inf"), 2**63, -(2**63) - 1, [1], {"k": 1}, np.float64(1)],
    "id": [None, True, 3.0, 2**64, "x\x00y", "y" * 513, ["a"], np.int64(3)],
    "timestamp": [
        True, float("nan"), "bad", "", -1e12, NOW * 1000, NOW + 1000, LATEST.timestamp(), 2**70,
        "2300-01-01T00:00:00Z", "2026-03-01T12:30:00Z", [NOW], datetime(2026, 3, 1, tzinfo=UTC),
    ],
    "latency_ms": [-1, -1e-300, True, "5", float("nan"), float("inf"), 2**64, [1]],
    "probabilities": [{"1": 0.5}, {"0": 0.25, "1": 0.75}, True, "x", float("nan"), 2**70, [0.5], {"1": "a"}],
    "features": [None, [], "x", {"timestamp": 1.0}, {1: 2.0}, {"id": "a"}],
    "extra": [("metadata", {"k": 1}), ("attributions", {"a": 1.0}), ("metadata", None), ("bogus", 1)],
}  # fmt: skip


def _pick(rng: random.Random, field: str, bad: float) -> Any:
    pool = BAD[field] if field in BAD and rng.random() < bad else GOOD[field]
    return pool[rng.randrange(len(pool))]


def _event(rng: random.Random, bad: float) -> Any:
    if rng.random() < bad / 4:
        return [None, 5, [], "event", ()][rng.randrange(5)]
    names = rng.sample(["a", "b", "c", "x y"], rng.randrange(0, 5))
    event: dict[str, Any] = {"features": {name: _pick(rng, "scalar", bad / 4) for name in names}}
    if rng.random() < bad / 4:
        event["features"] = _pick(rng, "features", 1.0)
    if rng.random() > bad / 8:
        event["prediction"] = _pick(rng, "scalar", bad / 2)
    for field in ("id", "timestamp", "latency_ms", "probabilities", "target"):
        value = _pick(rng, field if field != "target" else "target", bad / 2)
        if field == "target" and rng.random() < bad / 2:
            value = _pick(rng, "scalar", 1.0)
        if value is not _MISSING:
            event[field] = value
    if rng.random() < bad / 4:
        key, value = _pick(rng, "extra", 1.0)
        event[key] = value
    keys = list(event)
    rng.shuffle(keys)  # the order of an event's fields is the sender's
    return {key: event[key] for key in keys}


def _shown(values: list[Any]) -> list[Any]:
    # keys in order, values with their types (1, 1.0 and True are equal, but not stored alike)
    return [[(key, type(value).__name__, repr(value)) for key, value in item.items()] for item in values]


@pytest.fixture
def numbered_ids(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """New ids drawn in order (1, 2, ...): both checks draw one for each valid event without an id."""
    drawn = [0]

    def draw() -> uuid.UUID:
        drawn[0] += 1
        return uuid.UUID(int=drawn[0], version=4)

    monkeypatch.setattr(uuid, "uuid4", draw)
    return drawn


@pytest.mark.parametrize("seed", range(12))
def test_a_batch_checked_field_by_field_is_what_the_per_event_check_gives(seed: int, numbered_ids) -> None:
    rng = random.Random(seed)
    fast_batches = 0
    for round_ in range(150):
        bad = 0.0 if round_ % 3 == 0 else rng.choice([0.02, 0.1, 0.5])
        events = [_event(rng, bad) for _ in range(rng.choice([1, 2, 5, 40]))]
        schema = SCHEMAS[round_ % len(SCHEMAS)]
        tolerance = rng.choice([None, 300.0, 0.0])
        numbered_ids[0] = 0
        stored = event_columns._stored(RECEIVED)
        usual = event_columns.check_usual_batch(events, schema, RECEIVED, stored, tolerance)
        numbered_ids[0] = 0
        batch = check_events(events, schema, RECEIVED, tolerance)
        numbered_ids[0] = 0
        each = check_each(events, schema, RECEIVED, tolerance)
        assert _shown(batch.rows) == _shown(each.rows)
        assert _shown(batch.documents) == _shown(each.documents)
        assert [type(document) for document in batch.documents] == [type(d) for d in each.documents]
        assert (batch.rejected, batch.reasons, batch.unexpected) == (each.rejected, each.reasons, 0)
        if usual is not None:
            fast_batches += 1
            assert not each.rejected
            assert (_shown(usual[0]), _shown(usual[1])) == (_shown(each.rows), _shown(each.documents))
        elif bad == 0.0 and events and tolerance != 0.0:
            # valid events of the usual shape are never left to the per-event check
            pytest.fail(f"a batch of good events was checked event by event: {events}")
    assert fast_batches >= 40


def test_a_batch_of_client_events_is_checked_field_by_field() -> None:
    events = [
        {"id": f"e{i}", "timestamp": NOW - i / 7, "features": {"a": i * 0.5, "b": "x"}, "prediction": 1.0}
        for i in range(100)
    ]
    events[3]["latency_ms"] = 4.25
    stored = event_columns._stored(RECEIVED)
    usual = event_columns.check_usual_batch(events, SCHEMAS[0], RECEIVED, stored, 300.0)
    assert usual is not None
    each = check_each(events, SCHEMAS[0], RECEIVED, 300.0)
    assert (_shown(usual[0]), _shown(usual[1])) == (_shown(each.rows), _shown(each.documents))
    # the time of receipt stays the one object the store writer converts once
    assert usual[1][0]["received_at"] is stored
    later = RECEIVED + timedelta(seconds=301)
    events[50]["timestamp"] = later.timestamp()
    assert event_columns.check_usual_batch(events, SCHEMAS[0], RECEIVED, stored, 300.0) is None
    assert check_events(events, SCHEMAS[0], RECEIVED, 300.0).reasons == {"timestamp_ahead": 1}


def _compare(events: list[Any], schema: Schema, tolerance: float | None) -> None:
    batch, each = (
        check_events(events, schema, RECEIVED, tolerance),
        check_each(events, schema, RECEIVED, tolerance),
    )
    assert (_shown(batch.rows), _shown(batch.documents)) == (_shown(each.rows), _shown(each.documents))
    assert (batch.rejected, batch.reasons) == (each.rejected, each.reasons)


@pytest.mark.parametrize("tolerance", [None, 300.0])
@pytest.mark.parametrize("field", sorted(BAD))
def test_each_bad_value_alone_in_a_good_batch_is_refused_as_the_per_event_check_does(
    field, tolerance
) -> None:
    good = {"id": "g", "timestamp": NOW - 5, "features": {"a": 1.0}, "prediction": 2.0, "target": 1.0}
    for index, value in enumerate(BAD[field]):
        event: Any = dict(good, id=f"b{index}")
        if field == "scalar":
            for where in ("features", "prediction", "target"):
                changed = (
                    dict(event, features={"a": value}) if where == "features" else {**event, where: value}
                )
                _compare([good, changed, good], SCHEMAS[index % 2], tolerance)
            continue
        if field == "extra":
            event[value[0]] = value[1]
        else:
            event[field] = value
        _compare([good, event, good], SCHEMAS[index % 2], tolerance)
