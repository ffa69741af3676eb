"""What only the SQLite backend promises: WAL, several processes at once, reads that use the index."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from modelmon.errors import StoreError
from modelmon.store import open_store
from modelmon.store.sqlite import SqliteDatabase, open_sqlite_store

WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime, timedelta
    from modelmon.store import open_store

    url, name = sys.argv[1], sys.argv[2]
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    with open_store(url) as store:
        for batch in range(20):
            events = [
                {"id": f"{name}-{batch}-{i}", "timestamp": t0 + timedelta(seconds=i), "features": {"x": i}}
                for i in range(50)
            ]
            store.events.add_events("taxi", events)
            store.events.upsert_targets("taxi", [(f"{name}-{batch}-{i}", float(i)) for i in range(0, 50, 2)])
            store.metrics.append("taxi", t0 + timedelta(minutes=batch), {f"writer.{name}": float(batch)})
            sum(len(frame) for frame in store.events.read_frames("taxi", chunk_rows=200))
    """
)


def test_several_processes_write_and_read_one_file_at_once(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, url, name], stderr=subprocess.PIPE, text=True)
        for name in ("a", "b", "c")
    ]
    for writer in writers:
        _, errors = writer.communicate(timeout=120)
        assert writer.returncode == 0, errors
    with open_store(url) as store:
        assert store.events.count("taxi") == 3 * 20 * 50
        frames = list(store.events.read_frames("taxi", chunk_rows=700))
        ids = [event_id for frame in frames for event_id in frame["id"]]
        assert len(set(ids)) == 3000
        targets = sum(int(frame["target"].notna().sum()) for frame in frames)
        assert targets == 3 * 20 * 25
        history = store.metrics.history("taxi")
        assert {name: len(points) for name, points in history.items()} == {
            "writer.a": 20,
            "writer.b": 20,
            "writer.c": 20,
        }


def test_the_file_is_in_wal_mode_with_a_busy_timeout(tmp_path) -> None:
    database = SqliteDatabase(f"sqlite:///{tmp_path / 'm.db'}", busy_timeout=2.5)
    try:
        assert database.read("check", "PRAGMA journal_mode") == [("wal",)]
        assert database.read("check", "PRAGMA busy_timeout") == [(2500,)]
    finally:
        database.close()


@pytest.mark.parametrize(
    ("sql", "index"),
    [
        (
            "SELECT e.seq, t.target FROM events e LEFT JOIN targets t ON t.model = e.model AND t.id = e.id"
            " WHERE e.model = ? AND (e.ts, e.seq) > (?, ?) AND e.ts < ? ORDER BY e.ts, e.seq LIMIT 10",
            "events_model_ts",
        ),
        ("SELECT count(*) FROM events WHERE model = ? AND ts >= ? AND ts < ?", "events_model_ts"),
        ("SELECT seq FROM events WHERE model = ? AND id = ?", "events_model_id"),
    ],
)
def test_reads_walk_an_index_and_never_sort_in_memory(sql: str, index: str) -> None:
    database = SqliteDatabase("sqlite:///:memory:")
    try:
        parameters = (None,) * sql.count("?")
        plan = " | ".join(row[-1] for row in database.read("plan", f"EXPLAIN QUERY PLAN {sql}", parameters))
    finally:
        database.close()
    assert index in plan
    assert "TEMP B-TREE" not in plan and "SCAN e" not in plan


def test_a_failed_write_leaves_nothing_behind(tmp_path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'm.db'}") as store:
        store.events.add_events("taxi", [{"id": "a", "features": {"x": 1}}])

        def pairs():
            yield ("a", 1.0)
            raise RuntimeError("upload interrupted")

        with pytest.raises(RuntimeError, match="upload interrupted"):
            store.events.upsert_targets("taxi", pairs())
        frame = next(store.events.read_frames("taxi"))
        assert frame["target"].isna().all()


def _peak_while_reading(store, chunk_rows: int) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        rows = sum(len(frame) for frame in store.events.read_frames("taxi", chunk_rows=chunk_rows))
        return tracemalloc.get_traced_memory()[1] if rows else 0
    finally:
        tracemalloc.stop()


def test_reading_memory_does_not_grow_with_the_range(tmp_path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'm.db'}") as store:
        store.events.add_events(
            "taxi", [{"id": str(i), "features": {"x": float(i), "c": "a"}} for i in range(2_000)]
        )
        small = _peak_while_reading(store, chunk_rows=500)
        store.events.add_events(
            "taxi", [{"id": str(i), "features": {"x": float(i), "c": "a"}} for i in range(14_000)]
        )
        large = _peak_while_reading(store, chunk_rows=500)
    assert large < 2 * small, (small, large)


def test_a_writer_that_waits_too_long_gets_a_store_error_naming_the_operation(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    holder = SqliteDatabase(url)
    patient = open_sqlite_store(url, busy_timeout=0.2)
    try:
        holder.read("lock", "BEGIN IMMEDIATE")  # another writer holds the write lock
        with pytest.raises(
            StoreError, match=r"cannot add 1 events of model 'taxi': database is locked"
        ) as caught:
            patient.events.add_events("taxi", [{"features": {"x": 1}}])
        assert url in str(caught.value)
        assert patient.events.count("taxi") == 0  # readers are not blocked by the writer (WAL)
        holder.read("unlock", "ROLLBACK")
        assert patient.events.add_events("taxi", [{"features": {"x": 1}}]) == 1
    finally:
        patient.close()
        holder.close()


def test_a_file_from_before_unique_ids_keeps_the_first_row_of_each_id(tmp_path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    with open_store(f"sqlite:///{path}"):
        pass
    old = sqlite3.connect(path)
    old.executescript(
        "DROP INDEX events_model_id_unique; CREATE INDEX events_model_id ON events (model, id);"
        "INSERT INTO events (model, id, ts, features, prediction, received_at) VALUES"
        " ('taxi', 'a', 1, '{}', 1, 1), ('taxi', 'a', 2, '{}', 2, 2), ('taxi', 'b', 3, '{}', 3, 3);"
    )
    old.commit()
    old.close()
    with open_store(f"sqlite:///{path}") as store:
        rows = next(store.events.read_frames("taxi"))
        assert rows[["id", "prediction"]].values.tolist() == [["a", 1], ["b", 3]]
        assert store.events.add_events("taxi", [{"id": "a", "features": {}, "prediction": 9}]) == 0
