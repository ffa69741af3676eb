"""Opening stores by URL, and the errors when a URL is wrong or its store cannot be reached."""

from __future__ import annotations

import pytest

import modelmon.store as store_module
from modelmon.errors import ConfigError, MissingDependencyError, StoreError
from modelmon.store import open_store, redact_url


def test_public_surface() -> None:
    assert set(store_module.__all__) == {
        "EventStore",
        "MetricStore",
        "ReportStore",
        "Store",
        "UnknownReportError",
        "open_store",
        "redact_url",
    }


@pytest.mark.parametrize("url", ["mysql://db/modelmon", "sqlite://modelmon.db", "modelmon.db", ""])
def test_unsupported_url_is_a_config_error_that_lists_the_schemes(url: str) -> None:
    with pytest.raises(ConfigError, match="is not supported; use one of sqlite:///, mongodb://"):
        open_store(url)


def test_sqlite_url_without_a_file() -> None:
    with pytest.raises(ConfigError, match="names no file"):
        open_store("sqlite:///")


def test_sqlite_in_a_missing_folder_names_the_url_and_the_operation(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/no/such/folder/modelmon.db"
    with pytest.raises(StoreError, match="cannot open the database") as caught:
        open_store(url)
    assert url in str(caught.value) and "does its directory exist?" in str(caught.value)
    assert caught.value.__cause__ is not None


def test_sqlite_relative_path_is_relative_to_the_working_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:///relative.db") as store:
        store.events.add_events("m", [{"features": {"x": 1}}])
    assert (tmp_path / "relative.db").exists()


def test_sqlite_failure_after_opening_is_a_store_error(tmp_path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    store.close()
    with pytest.raises(StoreError, match=r"m\.db: cannot count events of model 'taxi'"):
        store.events.count("taxi")


def test_unreachable_mongodb_is_a_store_error_without_the_password() -> None:
    url = "mongodb://monitor:s3cret@127.0.0.1:1/modelmon?serverSelectionTimeoutMS=200"
    with pytest.raises(StoreError, match="cannot create the indexes") as caught:
        open_store(url)
    message = str(caught.value)
    assert "monitor:***@127.0.0.1:1" in message and "s3cret" not in message
    assert type(caught.value.__cause__).__module__.startswith("pymongo")


def test_malformed_mongodb_url_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot connect"):
        open_store("mongodb://host:notaport/modelmon")


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_unreachable_postgres_is_a_store_error_without_the_password(scheme: str) -> None:
    pytest.importorskip("psycopg")
    url = f"{scheme}://monitor:s3cret@127.0.0.1:1/modelmon?connect_timeout=2"
    with pytest.raises(StoreError, match="cannot connect") as caught:
        open_store(url)
    message = str(caught.value)
    assert "monitor:***@127.0.0.1:1" in message and "s3cret" not in message
    assert "Connection refused" in message or "connection refused" in message.lower()
    assert type(caught.value.__cause__).__module__.startswith("psycopg")


def test_malformed_postgres_url_is_a_store_error() -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(StoreError, match="the URL is malformed"):
        open_store("postgresql://host/modelmon?colour=red")


def test_missing_psycopg_says_what_to_install(monkeypatch) -> None:
    import modelmon.store.postgres as postgres

    def missing(module: str, extra: str):
        raise MissingDependencyError(f"{module} is needed for this feature: pip install 'modelmon[{extra}]'")

    monkeypatch.setattr(postgres, "require", missing)
    with pytest.raises(MissingDependencyError, match=r"modelmon\[postgres\]"):
        open_store("postgresql://db:5432/modelmon")


def test_redact_url_leaves_urls_without_password_alone() -> None:
    assert redact_url("sqlite:///modelmon.db") == "sqlite:///modelmon.db"
    assert redact_url("mongodb://u:p@h/db") == "mongodb://u:***@h/db"
