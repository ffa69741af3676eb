"""What only the MongoDB backend promises: its indexes, and a client it was handed stays open."""

from __future__ import annotations

import pytest

from modelmon.errors import MissingDependencyError
from modelmon.store import open_store


def test_indexes_on_model_time_and_model_id(mongomock_client) -> None:
    client = mongomock_client
    open_store("mongodb://db:27017/monitoring", client=client)
    database = client["monitoring"]
    events = {tuple(spec["key"]) for spec in database["events"].index_information().values()}
    assert {(("model", 1), ("timestamp", 1)), (("model", 1), ("id", 1))} <= events
    targets = database["targets"].index_information()
    assert any(spec["key"] == [("model", 1), ("id", 1)] and spec.get("unique") for spec in targets.values())


def test_database_defaults_to_modelmon_and_a_given_client_is_not_closed(mongomock_client) -> None:
    client = mongomock_client
    with open_store("mongodb://db:27017", client=client) as store:
        store.events.upsert_targets("taxi", [("a", 1)])
    assert client["modelmon"]["targets"].count_documents({}) == 1


def test_missing_pymongo_says_what_to_install(monkeypatch) -> None:
    import modelmon.store.mongo as mongo

    def missing(module: str, extra: str):
        raise MissingDependencyError(f"{module} is needed for this feature: pip install 'modelmon[{extra}]'")

    monkeypatch.setattr(mongo, "require", missing)
    with pytest.raises(MissingDependencyError, match=r"modelmon\[mongo\]"):
        open_store("mongodb://db:27017/modelmon")
