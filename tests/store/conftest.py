"""Backends for the store contract tests.

MongoDB runs against a real server when MODELMON_MONGODB_URI is set (each test gets its own
database, dropped afterwards), and against mongomock otherwise; the test ids and the report
header say which. PostgreSQL always runs against a real server: the one MODELMON_POSTGRES_URL
names, or a throwaway cluster that this test session starts on a free loopback port (initdb +
pg_ctl, see ``postgres_support``); each test gets its own schema, dropped afterwards. Without the
PostgreSQL binaries its tests skip with the reason (fail under MODELMON_REQUIRE_INTEGRATION=1).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from integration_support import need
from modelmon.store import Store, open_store
from postgres_support import Cluster, PostgresNotInstalled, start_cluster

MONGODB_URI = os.environ.get("MODELMON_MONGODB_URI")
MONGODB_KIND = "real" if MONGODB_URI else "mongomock"
POSTGRES_URL = os.environ.get("MODELMON_POSTGRES_URL")

BACKENDS = [
    pytest.param("memory", id="memory"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("mongodb", id=f"mongodb[{MONGODB_KIND}]"),
    pytest.param("postgres", id="postgres[real]"),
]


def _which_servers() -> list[str]:
    if MONGODB_URI:
        mongodb = f"real server ({urlsplit(MONGODB_URI).hostname})"
    else:
        mongodb = "mongomock (set MODELMON_MONGODB_URI for a real server)"
    if POSTGRES_URL:
        postgres = f"real server ({urlsplit(POSTGRES_URL).hostname}, from MODELMON_POSTGRES_URL)"
    else:
        postgres = "real server (a throwaway cluster on loopback, started by this run)"
    return [
        f"modelmon store tests: MongoDB backend = {mongodb}",
        f"modelmon store tests: PostgreSQL backend = {postgres}",
    ]


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Shown when the run starts in tests/store."""
    return _which_servers()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # type: ignore[no-untyped-def]
    """Also shown at the end of a whole-project run, where the header hook of this folder comes too late."""
    for line in _which_servers():
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster | None]:
    """The throwaway cluster of this session (``None`` when MODELMON_POSTGRES_URL names a server)."""
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install 'modelmon[postgres]'")
    if POSTGRES_URL:
        yield None
        return
    try:
        cluster = start_cluster()
    except PostgresNotInstalled as exc:
        need(False, str(exc))
        raise
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_cluster: Cluster | None) -> str:
    """URL of the database the PostgreSQL tests use."""
    return POSTGRES_URL or postgres_cluster.url()  # type: ignore[union-attr]


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """A URL whose connections work in a fresh schema of their own (dropped afterwards)."""
    import psycopg

    schema = f"modelmon_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in postgres_url else "?"
    yield f"{postgres_url}{separator}options=-csearch_path%3D{schema}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")


def _mongomock_accepts_sort(monkeypatch: pytest.MonkeyPatch) -> None:
    """pymongo >= 4.11 passes ``sort=`` to bulk builders; mongomock 4.3 predates it."""
    from mongomock.collection import BulkOperationBuilder

    add_update = BulkOperationBuilder.add_update

    def patched(self, *args, sort=None, **kwargs):  # type: ignore[no-untyped-def]
        assert sort is None, "modelmon never sorts inside bulk updates"
        return add_update(self, *args, **kwargs)

    monkeypatch.setattr(BulkOperationBuilder, "add_update", patched)


@pytest.fixture(params=BACKENDS)
def open_backend(request: pytest.FixtureRequest, tmp_path, monkeypatch) -> Iterator[Callable[[], Store]]:
    """``open_backend()`` opens (again) the same store of the backend named by the test parameter."""
    kind = request.param
    opened: list[Store] = []
    cleanup: list[Callable[[], None]] = []
    if kind == "memory":
        shared = open_store("memory://")

        def factory() -> Store:
            return shared
    elif kind == "sqlite":

        def factory() -> Store:
            opened.append(open_store(f"sqlite:///{tmp_path / 'modelmon.db'}"))
            return opened[-1]
    elif kind == "postgres":
        url = request.getfixturevalue("postgres_schema_url")

        def factory() -> Store:
            opened.append(open_store(url))
            return opened[-1]
    elif MONGODB_URI:
        parts = urlsplit(MONGODB_URI)
        url = urlunsplit(parts._replace(path=f"/modelmon_test_{uuid.uuid4().hex[:12]}"))

        def factory() -> Store:
            opened.append(open_store(url))
            return opened[-1]

        def drop() -> None:
            import pymongo

            with pymongo.MongoClient(url) as client:
                client.drop_database(urlsplit(url).path.strip("/"))

        cleanup.append(drop)
    else:
        import mongomock

        _mongomock_accepts_sort(monkeypatch)
        client = mongomock.MongoClient(tz_aware=True)

        def factory() -> Store:
            return open_store("mongodb://localhost:27017/modelmon_test", client=client)

    yield factory
    for store in opened:
        store.close()
    for step in cleanup:
        step()


@pytest.fixture
def mongomock_client(monkeypatch):  # type: ignore[no-untyped-def]
    """A fresh mongomock client that takes what pymongo's bulk operations send."""
    import mongomock

    _mongomock_accepts_sort(monkeypatch)
    return mongomock.MongoClient(tz_aware=True)


@pytest.fixture
def store(open_backend: Callable[[], Store]) -> Store:
    """An empty store of the backend under test."""
    return open_backend()
