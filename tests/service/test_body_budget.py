"""The budget of body bytes and the backlog's room taken before a batch is checked (six bodies of the
largest size at once against a real server: tests/integration/test_large_bodies.py)."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient
from test_service_api import _events
from test_service_durability import _service

from modelmon.config import parse_config
from modelmon.errors import BodyError, ConfigError, ServiceBusy
from modelmon.service.app import create_app
from modelmon.service.body import parse_json, read_body
from modelmon.service.body_budget import ITEM_BYTES, BodyBudget, items_limit


def test_the_budget_defaults_to_two_bodies_and_must_hold_one():
    config = parse_config({"max_body_bytes": 1000}, environ={})
    assert config.limits.body_bytes_in_flight is None  # the service takes twice max_body_bytes
    given = parse_config({"max_body_bytes": 1000, "limits": {"body_bytes_in_flight": 1500}}, environ={})
    assert given.limits.body_bytes_in_flight == 1500
    with pytest.raises(ConfigError, match=r"limits.body_bytes_in_flight: 999 cannot hold one body"):
        parse_config({"max_body_bytes": 1000, "limits": {"body_bytes_in_flight": 999}}, environ={})


def test_a_declared_length_beyond_the_budget_is_refused_before_a_byte_is_read():
    budget = BodyBudget(100)
    read: list[bytes] = []

    async def chunks():
        read.append(b"x" * 80)
        yield read[-1]

    async def other_request_then_this_one() -> None:
        with budget.claim() as other:
            other.take(50)
            with budget.claim() as claim, pytest.raises(ServiceBusy, match="50 bytes of other bodies"):
                await read_body(chunks(), 1000, "80", claim=claim)

    asyncio.run(other_request_then_this_one())
    assert read == [] and budget.refused == 1 and budget.in_flight == 0


def test_a_stream_without_length_is_refused_once_it_outgrows_the_budget():
    budget = BodyBudget(100)

    async def chunks():
        for _ in range(5):
            yield b"x" * 30

    async def read() -> None:
        with budget.claim() as claim:
            await read_body(chunks(), 1000, claim=claim)

    with pytest.raises(ServiceBusy):
        asyncio.run(read())
    assert budget.peak == 90 and budget.in_flight == 0


def test_a_body_that_does_not_fit_is_a_503_with_retry_after_and_counted(tmp_path):
    service = _service(tmp_path, store_url="memory://")
    client = TestClient(create_app(service, CollectorRegistry()))
    try:
        with service.bodies.claim() as held:
            held.take(service.bodies.limit - 100)  # other requests hold all but 100 bytes
            refused = client.post("/v1/models/m/events", json={"events": _events(10)})
            assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
            assert "other bodies" in refused.json()["error"]
        assert client.post("/v1/models/m/events", json={"events": _events(10)}).status_code == 200
        bodies = client.get("/health").json()["bodies"]
        assert bodies["refused"] == 1 and bodies["in_flight"] == 0
        assert bodies["limit"] == 2 * service.config.max_body_bytes
    finally:
        service.close()


def test_a_batch_takes_its_room_in_the_backlog_before_it_is_checked(tmp_path, monkeypatch):
    service = _service(tmp_path, store_url="memory://", max_backlog=100)
    try:
        service.persister.reserve(90)  # the store writer is behind: 10 places left

        def check(*args):
            raise AssertionError("a batch that cannot fit in the backlog was checked")

        monkeypatch.setattr(service.monitors["m"], "check", check)
        with pytest.raises(ServiceBusy, match="the store writer is behind"):
            service.ingest_future("m", _events(40))
        assert service.persister.backlog == 90  # nothing of the refused batch is held
        assert service.health()["refused"] == {"m": {"backlog_full": 40}}
    finally:
        service.persister.release(90)
        service.close()


def test_a_batch_of_more_items_than_a_body_may_hold_is_a_413_and_nothing_is_kept(tmp_path):
    service = _service(tmp_path, store_url="memory://")
    client = TestClient(create_app(service, CollectorRegistry()))
    try:
        most = items_limit(service.config.max_body_bytes)  # 6,250 for the 200,000 bytes of this config
        answer = client.post("/iterate/m", content=b"[" + b",".join([b"{}"] * (most + 1)) + b"]")
        assert answer.status_code == 413
        assert f"holds {most + 1} items, more than the {most}" in answer.json()["error"]
        assert service.monitors["m"].counters.events == 0 and service.persister.backlog == 0
        assert client.post("/iterate/m", content=b"[" + b",".join([b"{}"] * most) + b"]").status_code == 200
    finally:
        service.close()


def test_a_large_body_of_too_many_items_is_refused_before_it_is_parsed():
    body = b"[" + b",".join([b"{}"] * 400_000) + b"]"  # 1.2 MB: parsed in slices
    with pytest.raises(BodyError, match="holds 400000 items, more than the 1000") as caught:
        parse_json(body, max_items=1000)
    assert caught.value.status == 413


def test_a_body_holds_the_budget_by_its_items_when_they_are_many_for_its_bytes(tmp_path):
    service = _service(tmp_path, store_url="memory://")
    client = TestClient(create_app(service, CollectorRegistry()))
    records = b"[" + b",".join([b"{}"] * 1000) + b"]"  # 3 KB, held as 1,000 items of ITEM_BYTES
    try:
        with service.bodies.claim() as held:
            held.take(service.bodies.limit - 10_000)
            assert len(records) < 10_000 < 1000 * ITEM_BYTES
            refused = client.post("/iterate/m", content=records)
            assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
        assert client.post("/iterate/m", content=records).status_code == 200
    finally:
        service.close()
