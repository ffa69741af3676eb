"""Storage of events, reports and metric history, chosen by the ``store:`` URL of the config.

======================================  ===============================================================
``sqlite:///modelmon.db``               SQLite file relative to the working directory (the default)
``sqlite:////var/lib/modelmon.db``      SQLite file at an absolute path; ``sqlite:///:memory:`` too
``mongodb://host:27017/modelmon``       MongoDB database ``modelmon`` (``mongodb+srv://`` as well)
``postgresql://user:pw@host:5432/db``   PostgreSQL database ``db`` (``postgres://`` as well; libpq's
                                        URL, query options included)
``memory://``                           in-process only, for tests
======================================  ===============================================================

>>> with open_store("memory://") as store:
...     store.events.add_events("taxi", [{"features": {"trip_distance": 2.5}, "prediction": 12.0}])
...     store.events.models()
1
['taxi']
"""

from __future__ import annotations

from typing import Any

from modelmon.errors import ConfigError, UnknownReportError
from modelmon.store.base import EventStore, MetricStore, ReportStore, Store, redact_url

__all__ = [
    "EventStore",
    "MetricStore",
    "ReportStore",
    "Store",
    "UnknownReportError",
    "open_store",
    "redact_url",
]

SCHEMES = ("sqlite:///", "mongodb://", "mongodb+srv://", "postgresql://", "postgres://", "memory://")


def open_store(url: str, *, client: Any = None) -> Store:
    """Open the store that ``url`` names (see the table above).

    ``client``: a ready pymongo-compatible client for ``mongodb://`` URLs (tests pass a mongomock one);
    by default one is created from the URL.

    >>> open_store("mysql://db/modelmon")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    modelmon.errors.ConfigError: store URL 'mysql://db/modelmon' is not supported; ...
    """
    if not isinstance(url, str) or not url.startswith(SCHEMES):
        raise ConfigError(
            f"store URL {redact_url(url) if isinstance(url, str) else url!r} is not supported; "
            f"use one of {', '.join(SCHEMES)}"
        )
    if url.startswith("memory://"):
        from modelmon.store.memory import open_memory_store

        return open_memory_store(url)
    if url.startswith("sqlite:///"):
        if url == "sqlite:///":
            raise ConfigError("store URL 'sqlite:///' names no file; write e.g. sqlite:///modelmon.db")
        from modelmon.store.sqlite import open_sqlite_store

        return open_sqlite_store(url)
    if url.startswith(("postgresql://", "postgres://")):
        from modelmon.store.postgres import open_postgres_store

        return open_postgres_store(url)
    from modelmon.store.mongo import open_mongo_store

    return open_mongo_store(url, client=client)
