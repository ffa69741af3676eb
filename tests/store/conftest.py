"""Backends for the store contract tests.

MongoDB runs against a real server when MODELMON_MONGODB_URI is set (each test gets its own
database, dropped afterwards), and against mongomock otherwise; the test ids and the report
header say which.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from modelmon.store import Store, open_store

MONGODB_URI = os.environ.get("MODELMON_MONGODB_URI")
MONGODB_KIND = "real" if MONGODB_URI else "mongomock"

BACKENDS = [
    pytest.param("memory", id="memory"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("mongodb", id=f"mongodb[{MONGODB_KIND}]"),
]


def _which_mongodb() -> str:
    if MONGODB_URI:
        return f"modelmon store tests: MongoDB backend = real server ({urlsplit(MONGODB_URI).hostname})"
    return "modelmon store tests: MongoDB backend = mongomock (set MODELMON_MONGODB_URI for a real server)"


def pytest_report_header(config: pytest.Config) -> str:
    """Shown when the run starts in tests/store."""
    return _which_mongodb()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # type: ignore[no-untyped-def]
    """Also shown at the end of a whole-project run, where the header hook of this folder comes too late."""
    terminalreporter.write_line(_which_mongodb())


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
