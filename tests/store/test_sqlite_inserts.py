"""The SQLite store inserts a write's events many to a statement: the same rows, in the same order, with
the same ids skipped, as one statement an event."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from modelmon.store import sqlite as module
from modelmon.store.sqlite import open_sqlite_store

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _one_at_a_time(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    db.executemany(
        "INSERT INTO events VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (model, id) DO NOTHING",
        rows,
    )


def _stored(path: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT * FROM events ORDER BY seq").fetchall()


@pytest.mark.parametrize("seed", range(4))
def test_many_events_to_a_statement_store_what_one_at_a_time_stores(seed, tmp_path, monkeypatch) -> None:
    rng = random.Random(seed)
    monkeypatch.setattr(module, "_EVENTS_PER_INSERT", [1, 7, 500, 500][seed])
    many, one = (open_sqlite_store(f"sqlite:///{tmp_path / name}.db") for name in ("many", "one"))
    try:
        for _ in range(12):
            count = rng.choice([1, 2, 6, 7, 8, 13, 499, 500, 501, 1100])
            events = [
                {
                    # ids repeat within a write and across writes: the first one stored wins
                    "id": f"e{rng.randrange(3 * count)}",
                    "timestamp": T0 + timedelta(seconds=rng.randrange(10**6)),
                    "features": {"x": rng.random(), "city": rng.choice(["a", None, "Zürich"])},
                    "prediction": rng.choice([1.5, "yes", None, 3]),
                    "target": rng.choice([None, 0, "no"]),
                    "latency_ms": rng.choice([None, 2.5]),
                    "received_at": T0,
                }
                for _ in range(count)
            ]
            model = rng.choice(["m", "n"])
            added = many.events.add_events(model, events)
            with monkeypatch.context() as patched:
                patched.setattr(module, "_insert_events", _one_at_a_time)
                assert one.events.add_events(model, events) == added
    finally:
        many.close()
        one.close()
    rows = _stored(str(tmp_path / "many.db"))
    assert len(rows) > 12 and rows == _stored(str(tmp_path / "one.db"))
