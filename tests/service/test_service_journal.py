"""The journal trusts no byte it reads back: damaged records are skipped, counted and kept aside, the
records around them are replayed, and no file in its folder stops the service from starting."""

from __future__ import annotations

import zlib

import orjson
import pytest
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient
from test_service_api import _config, _events, _reference

from modelmon.config import IngestSettings
from modelmon.service.app import create_app
from modelmon.service.journal import ITEMS_PER_DUMP, entry_line
from modelmon.service.journal_records import frame, read_segment
from modelmon.service.runtime import MonitoringService
from modelmon.store import open_store


def _service(tmp_path) -> MonitoringService:
    config = _config()
    config = type(config)(**{**config.__dict__, "ingest": IngestSettings(journal_dir=tmp_path / "j")})
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    return MonitoringService(config, store=store, references={"m": _reference()})


def _journal_four_batches(tmp_path) -> bytes:
    """Four batches of 25 events (ids 0-99) journaled by a service whose store writer never ran."""
    service = _service(tmp_path)
    service.persister._stop.set()  # as if the process died before storing anything
    service.persister.close(0)
    client = TestClient(create_app(service, CollectorRegistry()))
    for batch in range(4):
        answer = client.post("/v1/models/m/events", json={"events": _events(25, start=25 * batch)})
        assert answer.json()["accepted"] == 25
    service.journal.close()
    service.store.close()
    (segment,) = (tmp_path / "j").glob("segment-*.jsonl")
    return segment.read_bytes()


@pytest.mark.slow
def test_flipped_bytes_a_cut_record_and_stray_files_are_put_aside_and_the_rest_replays(tmp_path):
    data = _journal_four_batches(tmp_path)
    (segment,) = (tmp_path / "j").glob("segment-*.jsonl")
    starts = [i for i, byte in enumerate(data) if byte == 0x1E]
    assert len(starts) == 4 and len(read_segment(data).entries) == 4
    flipped = bytearray(data)
    # batch 2: one bit of its model name, which stays valid JSON naming a model that does not exist
    at = data.index(b'"model":"m"', starts[1]) + len(b'"model":"')
    flipped[at] ^= 0x03
    assert flipped[at : at + 1] == b"n"
    # batch 3: cut in the middle, so batch 4 follows straight after half a record
    middle = (starts[2] + starts[3]) // 2
    damaged = bytes(flipped[:middle]) + bytes(flipped[starts[3] :])
    segment.write_bytes(damaged)
    # a hand-made record with a right checksum but not a batch, an old plain line, and stray files
    payload = b'{"kind":"events","model":"m","items":[1,2]}'
    hand_made = b"\x1e%08x %s\n" % (zlib.crc32(payload), payload)
    (tmp_path / "j" / "segment-999999.jsonl").write_bytes(
        b'{"kind":"events","model":"m","items":[]}\n' + hand_made
    )
    (tmp_path / "j" / "segment-.jsonl").write_bytes(b"stray")
    (tmp_path / "j" / "notes.txt").write_text("not the journal's")

    service = _service(tmp_path)  # starts: nothing it finds in the folder stops it
    try:
        assert service.persister.flush(10)
        stored = service.store.events.count("m")
        assert stored == 50  # batches 1 and 4, each 25 events
        assert service.store.events.count("n") == 0  # the flipped batch was never filed elsewhere
        health = service.health()["journal"]
        assert health["damaged_records"] == 4  # the flip, the cut, the old line, the hand-made record
        assert health["quarantined_files"] == 2
        quarantine = tmp_path / "j" / "quarantine"
        assert (quarantine / "segment-.jsonl").read_bytes() == b"stray"
        assert (quarantine / "notes.txt").exists()
        kept = (quarantine / f"{segment.name}.damaged").read_bytes()
        first, *_, last = _records(damaged)
        assert b'"model":"n"' in kept and len(kept) == len(damaged) - len(first) - len(last)
        metrics = TestClient(create_app(service, CollectorRegistry())).get("/metrics").text
        assert "modelmon_journal_damaged_records 4.0" in metrics
    finally:
        service.close()
    assert not list((tmp_path / "j").glob("segment-*.jsonl"))  # all replayed or put aside


def _records(data: bytes) -> list[bytes]:
    return [b"\x1e" + chunk for chunk in data.split(b"\x1e")[1:]]


@pytest.mark.slow
def test_a_record_cut_by_a_crash_at_the_end_loses_only_itself(tmp_path):
    data = _journal_four_batches(tmp_path)
    (segment,) = (tmp_path / "j").glob("segment-*.jsonl")
    segment.write_bytes(data[:-7])  # the last write stopped short: that batch was never answered
    service = _service(tmp_path)
    try:
        assert service.persister.flush(10)
        assert service.store.events.count("m") == 75
        assert service.health()["journal"]["damaged_records"] == 1
    finally:
        service.close()


def test_a_large_batch_written_in_slices_is_the_record_of_one_write():
    items = [{"id": str(i), "features": {"x": i, "c": "a,]"}} for i in range(2 * ITEMS_PER_DUMP + 1)]
    line = entry_line("events", "m", items)
    assert line == frame(orjson.dumps({"kind": "events", "model": "m", "items": items}))
    assert read_segment(line).entries == [{"kind": "events", "model": "m", "items": items}]
