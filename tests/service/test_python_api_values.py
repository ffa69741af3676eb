"""Values only a caller of the Python API can send (a JSON body's parser refuses them before the
checks): a lone surrogate in text, a subclass of int beyond 64 bits. Each event holding one is
rejected with a message naming the field, the batch's other events are kept, and nothing reaches
the store's dead letters (before, such an event was acknowledged and then failed its store write)."""

from __future__ import annotations

import pytest
from test_service_api import _events
from test_service_durability import _service

from modelmon.errors import EventError
from modelmon.schema import Schema
from modelmon.service.events import check_events, check_target, reason_code

SCHEMA = Schema(numerical=["x"], categorical=["c"], prediction="p", target="y", id="id")
SURROGATE = "ok\udc80"


class BigInt(int):
    """An int subclass, as a Python caller's numeric type may be."""


BIG = BigInt(2**70)


def _usual(**change):
    event = {"id": "e", "features": {"x": 1.0, "c": "a"}, "prediction": 1.0}
    return {**event, **change}


BAD = [
    (_usual(prediction=SURROGATE), "prediction: the text holds a lone surrogate (U+DC80) at position 2"),
    (_usual(target=SURROGATE), "target: the text holds a lone surrogate"),
    (_usual(id=SURROGATE), "id: the text holds a lone surrogate"),
    (_usual(features={"x": 1.0, "c": SURROGATE}), "features.c: the text holds a lone surrogate"),
    (_usual(features={SURROGATE: 1.0}), "features.'ok\\udc80': the text holds a lone surrogate"),
    (_usual(metadata={"k": [1, {"n": SURROGATE}]}), "metadata.k[1].n: the text holds a lone surrogate"),
    (_usual(metadata={SURROGATE: 1}), "metadata (a key): the text holds a lone surrogate"),
    (_usual(attributions={SURROGATE: 1.0}), "attributions (a key): the text holds a lone surrogate"),
    (_usual(prediction=BIG), "prediction: the integer 1180591620717411303424 is outside the 64-bit range"),
    (_usual(target=-BIG), "target: the integer -1180591620717411303424 is outside the 64-bit range"),
    (_usual(id=BIG), "id: the integer 1180591620717411303424 is outside the 64-bit range"),
    (_usual(features={"x": BIG}), "features.x: the integer 1180591620717411303424 is outside the 64-bit"),
    (_usual(attributions={"x": BIG}), "attributions.x: the integer 1180591620717411303424 is outside"),
]


@pytest.mark.parametrize(("event", "error"), BAD, ids=[error[:40] for _, error in BAD])
def test_an_event_a_store_cannot_keep_is_rejected_by_name_and_its_batch_kept(event, error) -> None:
    good = [_usual(id="g1"), _usual(id="g2", features={"x": 2.0, "c": "Zürich"})]
    batch = check_events([good[0], event, good[1]], SCHEMA)
    assert [document["id"] for document in batch.documents] == ["g1", "g2"]
    assert len(batch.rejected) == 1 and batch.rejected[0]["index"] == 1
    assert batch.rejected[0]["error"].startswith(error)
    assert batch.reasons == {reason_code(error): 1}


def test_valid_text_and_an_int_subclass_within_64_bits_are_kept() -> None:
    events = [
        _usual(id="é", prediction="naïve 🙂", features={"x": BigInt(5), "c": "Zürich"}, target=BigInt(1))
    ]
    batch = check_events(events, SCHEMA)
    assert not batch.rejected
    assert batch.documents[0]["prediction"] == "naïve 🙂" and batch.documents[0]["features"]["x"] == 5


@pytest.mark.parametrize(
    ("item", "error"),
    [
        ({"id": SURROGATE, "target": 1}, "id: the text holds a lone surrogate"),
        ({"id": "a", "target": SURROGATE}, "target: the text holds a lone surrogate"),
        ({"id": "a", "target": BIG}, "target: the integer 1180591620717411303424 is outside"),
        ({"id": BIG, "target": 1}, "id: the integer 1180591620717411303424 is outside"),
        ({"id": 1.5, "target": 1}, "id: expected text or an integer, got float"),
        ({"id": "a", "target": {1, 2}}, "target: missing or not a number or label"),
    ],
)
def test_a_late_target_a_store_cannot_keep_is_rejected_by_name(item, error) -> None:
    with pytest.raises(EventError, match="^" + error.replace("(", r"\(").replace(")", r"\)")):
        check_target(item)


def test_through_the_service_nothing_acknowledged_is_dead_lettered(tmp_path) -> None:
    service = _service(tmp_path)
    try:
        good = _events(3)
        bad = [
            dict(good[0], id="s", prediction=SURROGATE),
            dict(good[1], id="b", features=dict(good[1]["features"], x=BIG)),
        ]
        batch, durable = service.ingest_future("m", [*good, *bad])
        service.wait_durable(durable)
        assert len(batch.documents) == 3 and [item["index"] for item in batch.rejected] == [3, 4]
        pairs, rejected, durable = service.targets_future("m", [{"id": "0", "target": SURROGATE}])
        service.wait_durable(durable)
        assert not pairs and rejected[0]["error"].startswith("target: the text holds a lone surrogate")
        assert service.persister.flush(10)
        assert service.store.events.count("m") == 3
        health = service.health()
        assert health["store"]["dead_lettered"] == 0 and health["store"]["failures"] == 0
        assert health["rejected_by_reason"]["m"] == {"prediction": 1, "features": 1}
    finally:
        service.close()
