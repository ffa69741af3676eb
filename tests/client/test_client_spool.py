"""The disk spool: order, persistence across processes, bounds, locking, damaged files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from modelmon.client import Monitor
from modelmon.client.spool import Spool
from modelmon.errors import SpoolLockedError


def _events(*ids: str) -> list[str]:
    return [json.dumps({"id": i}) for i in ids]


def test_reopened_spool_resumes_after_the_batches_already_sent(tmp_path):
    path = tmp_path / "m.jsonl"
    spool = Spool(path)
    for batch in (["a", "b"], ["c"], ["d", "e"]):
        spool.append("events", _events(*batch))
    assert spool.pop() == 2
    spool.close()

    reopened = Spool(path)
    assert (reopened.count, len(reopened)) == (3, 2)
    assert reopened.peek() == ("events", [{"id": "c"}])
    reopened.pop()
    assert reopened.peek() == ("events", [{"id": "d"}, {"id": "e"}])
    reopened.pop()
    assert reopened.count == 0 and path.read_bytes() == b""
    assert not path.with_name("m.jsonl.offset").exists()


def test_full_spool_drops_the_oldest_batches_and_says_how_many(tmp_path):
    line = len('{"kind": "events", "items": [{"id": "0"}, {"id": "1"}]}\n')
    spool = Spool(tmp_path / "m.jsonl", max_bytes=3 * line)
    dropped = [spool.append("events", _events(f"{i}", f"{i + 1}")) for i in range(0, 10, 2)]
    assert dropped == [0, 0, 0, 2, 2]
    assert spool.count == 6
    assert spool.peek() == ("events", [{"id": "4"}, {"id": "5"}])
    assert spool.append("events", _events(*"x" * 100)) == 100, "a batch larger than the spool is refused"


def test_file_is_compacted_and_order_kept_under_churn(tmp_path):
    path = tmp_path / "m.jsonl"
    spool = Spool(path, max_bytes=6_000)  # holds the 100 batches left, not what was sent before them
    sent, largest = [], 0
    for i in range(300):
        spool.append("events", _events(str(i)))
        largest = max(largest, path.stat().st_size)
        if i % 3 != 2:
            sent.extend(item["id"] for item in spool.peek()[1])
            spool.pop()
    while spool:
        sent.extend(item["id"] for item in spool.peek()[1])
        spool.pop()
    assert sent == [str(i) for i in range(300)]
    assert largest < 6_000 + 3_000 + 100, "lines already sent are compacted away"
    assert path.stat().st_size == 0


def test_line_cut_short_by_a_crash_is_discarded(tmp_path):
    path = tmp_path / "m.jsonl"
    spool = Spool(path)
    spool.append("events", _events("a"))
    spool.close()
    with open(path, "ab") as file:
        file.write(b'{"kind": "events", "items": [{"id": "b"')
    reopened = Spool(path)
    assert reopened.count == 1
    reopened.append("targets", ['{"id": "a", "target": 1}'])
    reopened.pop()
    assert reopened.peek() == ("targets", [{"id": "a", "target": 1}])


def test_second_process_cannot_take_a_spool_in_use(tmp_path):
    path = tmp_path / "m.jsonl"
    spool = Spool(path)
    code = (
        "import sys\nfrom modelmon.client.spool import Spool, SpoolLockedError\n"
        "try:\n    Spool(sys.argv[1])\nexcept SpoolLockedError as exc:\n    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    assert "in use by another process" in result.stdout
    spool.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="flock is POSIX")
def test_monitor_falls_back_to_a_per_process_spool(tmp_path):
    path = tmp_path / "m.jsonl"
    holder = Spool(path)
    try:
        with pytest.raises(SpoolLockedError):
            Spool(path)
        monitor = Monitor("http://127.0.0.1:9", "m", spool_path=path)
        assert monitor.spool_file == tmp_path / f"m-{os.getpid()}.jsonl"
        assert monitor.close(timeout=30.0)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["m.jsonl.lock"], "empty private spool removed"
    finally:
        holder.close()


def test_bad_size_is_refused_with_the_value():
    with pytest.raises(ValueError, match="max_bytes must be a positive number of bytes, got 0"):
        Spool("unused.jsonl", max_bytes=0)
