"""What only the PostgreSQL backend has, tested against a real server: its tables and indexes, a
connection dropped in the middle of a batch, a server restart under a write and under a read, and a
statement timeout. (The contract it shares with the other backends is test_store_contract.py.)"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from modelmon.errors import StoreError
from modelmon.store import Store, open_store

pytestmark = pytest.mark.integration

psycopg = pytest.importorskip("psycopg")

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def event(i: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"ride-{i}",
        "timestamp": T0 + timedelta(seconds=i),
        "features": {"trip_distance": float(i)},
        "prediction": 1.0,
        **fields,
    }


def with_options(url: str, *options: str) -> str:
    """``url`` with more server settings in its libpq ``options`` (``-cname=value`` each)."""
    encoded = "%20".join(option.replace("=", "%3D") for option in options)
    if "options=" in url:
        return url.replace("options=", f"options={encoded}%20", 1)
    return f"{url}{'&' if '?' in url else '?'}options={encoded}"


@pytest.fixture
def store(postgres_schema_url: str) -> Iterator[Store]:
    with open_store(postgres_schema_url) as opened:
        yield opened


def rows(store: Store) -> pd.DataFrame:
    return pd.concat(list(store.events.read_frames("taxi", chunk_rows=64)), ignore_index=True)


class LockedEvents:
    """Another session holding a lock on ``events``, so that the store's next insert waits on it
    (a real lock wait, seen in pg_stat_activity) until :meth:`release`."""

    def __init__(self, url: str, mode: str = "EXCLUSIVE") -> None:
        self.connection = psycopg.connect(url)
        self.connection.execute(f"LOCK TABLE events IN {mode} MODE")

    def waiting_backend(self, url: str, statement: str, timeout: float = 20.0) -> int:
        """The pid of the store's session once it waits on the lock running ``statement``."""
        deadline = time.monotonic() + timeout
        with psycopg.connect(url, autocommit=True) as admin:
            while time.monotonic() < deadline:
                found = admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = 'modelmon'"
                    " AND wait_event_type = 'Lock' AND query LIKE %s",
                    (f"%{statement}%",),
                ).fetchall()
                if found:
                    return int(found[0][0])
                time.sleep(0.02)
        raise AssertionError(f"no modelmon session waited on the lock running {statement!r}")

    def release(self) -> None:
        if not self.connection.closed:
            self.connection.close()


def test_events_are_jsonb_documents_with_typed_columns_and_the_designed_indexes(
    store: Store, postgres_schema_url: str
) -> None:
    store.events.add_events("taxi", [event(0, target=3.0, metadata={"version": "v1"})])
    with psycopg.connect(postgres_schema_url) as connection:
        types = dict(
            connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_name = 'events' AND table_schema = current_schema()"
            ).fetchall()
        )
        indexes = dict(
            connection.execute(
                "SELECT indexname, indexdef FROM pg_indexes"
                " WHERE tablename = 'events' AND schemaname = current_schema()"
            ).fetchall()
        )
        document, version = connection.execute(
            "SELECT doc, doc->'metadata'->>'version' FROM events WHERE model = 'taxi' AND id = 'ride-0'"
        ).fetchone()
    assert types["model"] == types["id"] == "text"
    assert types["ts"] == "timestamp with time zone"
    assert types["target"] == types["doc"] == "jsonb"
    assert "(model, ts, seq)" in indexes["events_model_ts"]
    unique = indexes["events_model_id"]
    assert unique.startswith("CREATE UNIQUE INDEX") and "(model, id)" in unique
    assert document["features"] == {"trip_distance": 0.0} and version == "v1"


def test_a_resend_never_makes_a_second_row_and_the_first_write_wins(store: Store) -> None:
    store.events.add_events("taxi", [event(i, prediction=1.0) for i in range(3)])
    resend = [event(i, prediction=2.0) for i in range(2, 5)] + [event(4, prediction=3.0)]
    store.events.add_events("taxi", resend)
    stored = rows(store)
    assert stored["id"].tolist() == [f"ride-{i}" for i in range(5)]
    assert stored["prediction"].tolist() == [1.0, 1.0, 1.0, 2.0, 2.0]


def test_a_connection_dropped_mid_batch_is_retried_without_loss_or_duplicate(
    store: Store, postgres_schema_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store.events.add_events("taxi", [event(i, prediction=1.0) for i in range(50)])
    lock = LockedEvents(postgres_schema_url)
    killed: list[int] = []

    def drop_the_connection() -> None:
        try:
            pid = lock.waiting_backend(postgres_schema_url, "INSERT INTO events")
            with psycopg.connect(postgres_schema_url, autocommit=True) as admin:
                assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
            killed.append(pid)
        finally:
            lock.release()

    killer = threading.Thread(target=drop_the_connection)
    killer.start()
    with caplog.at_level(logging.WARNING, logger="modelmon.store"):
        store.events.add_events("taxi", [event(i, prediction=2.0) for i in range(200)])
    killer.join()
    assert killed, "the batch's connection was never terminated"
    assert "terminating connection due to administrator command" in caplog.text
    stored = rows(store)
    assert stored["id"].tolist() == [f"ride-{i}" for i in range(200)]
    assert stored["prediction"].tolist() == [1.0] * 50 + [2.0] * 150


def test_a_server_restart_under_a_write_and_under_a_read_loses_nothing(
    store: Store, postgres_cluster, postgres_schema_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    if postgres_cluster is None:
        pytest.skip("MODELMON_POSTGRES_URL names a server this test cannot restart")
    store.events.add_events("taxi", [event(i) for i in range(300)])
    store.events.upsert_targets("taxi", [(f"ride-{i}", float(i)) for i in range(300)])
    frames = store.events.read_frames("taxi", chunk_rows=100)
    first = next(frames)
    lock = LockedEvents(postgres_schema_url, mode="SHARE")
    restarted = threading.Event()

    def restart() -> None:
        try:
            lock.waiting_backend(postgres_schema_url, "INSERT INTO events")
            postgres_cluster.restart()  # fast shutdown: every session is cut, the lock's one too
            restarted.set()
        finally:
            lock.release()

    restarter = threading.Thread(target=restart)
    restarter.start()
    with caplog.at_level(logging.WARNING, logger="modelmon.store"):
        store.events.add_events("taxi", [event(i) for i in range(300, 400)])
        restarter.join()
        assert restarted.is_set()
        read = pd.concat([first, *frames], ignore_index=True)
    retried = [record.getMessage() for record in caplog.records]
    assert any("add 100 events of model 'taxi' failed" in message for message in retried), retried
    assert any("read events of model 'taxi' failed" in message for message in retried), retried
    # the read resumed after its last row on a new connection; it sees the rows written meanwhile
    assert read["id"].tolist() == [f"ride-{i}" for i in range(400)]
    assert read["target"].tolist()[:300] == [float(i) for i in range(300)]
    assert store.events.count("taxi") == 400


def test_a_statement_timeout_surfaces_as_a_store_error_at_once(postgres_schema_url: str) -> None:
    url = with_options(postgres_schema_url, "-cstatement_timeout=300")
    with open_store(url) as store:
        store.events.add_events("taxi", [event(0)])
        lock = LockedEvents(postgres_schema_url, mode="ACCESS EXCLUSIVE")
        try:
            started = time.monotonic()
            with pytest.raises(StoreError, match="statement timeout") as caught:
                store.events.count("taxi")
            with pytest.raises(StoreError, match=r"cannot add 1 events of model 'taxi'.*statement_timeout"):
                store.events.add_events("taxi", [event(1)])
            elapsed = time.monotonic() - started
        finally:
            lock.release()
        assert type(caught.value.__cause__).__name__ == "QueryCanceled"
        # retried, each of the two statements would take its 8 s of back-off and 7 timeouts
        assert elapsed < 8.0, "a timeout is not retried"
        assert store.events.count("taxi") == 1


def test_statements_have_a_timeout_by_default(store: Store) -> None:
    setting = store.events.database.read("show the timeout", "SHOW statement_timeout")  # type: ignore[attr-defined]
    assert setting == [("1min",)]
