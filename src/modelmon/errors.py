"""Every error modelmon raises on purpose.

The hierarchy::

    ModelmonError
    ├── ConfigError          the monitoring config file or a CLI option is wrong
    ├── SchemaError          columns missing, unexpected, or of the wrong kind
    ├── InputError           a data file, an event or a request body cannot be used
    │   └── EventError       one ingested event is invalid (the batch keeps the valid ones)
    ├── StoreError           the event/report/metric store failed (third-party errors chained)
    ├── MissingDependencyError   an optional extra is not installed; says what to pip install
    └── UnknownModelError    a model name that the config does not define

Third-party errors are mapped at the boundary and re-raised ``from`` the original,
so the real cause stays in the traceback.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConfigError",
    "EventError",
    "InputError",
    "MissingDependencyError",
    "ModelmonError",
    "SchemaError",
    "StoreError",
    "UnknownModelError",
    "require",
]


class ModelmonError(Exception):
    """Base class of every error modelmon raises on purpose."""


class ConfigError(ModelmonError):
    """The monitoring config file or a command-line option is wrong."""


class SchemaError(ModelmonError):
    """Columns are missing, unexpected, or of the wrong kind for the schema."""


class InputError(ModelmonError):
    """A data file, an event or a request body cannot be used."""


class EventError(InputError):
    """One ingested event is invalid; ``index`` is its position in the batch."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


class StoreError(ModelmonError):
    """The store (SQLite, MongoDB or PostgreSQL) failed; the driver's error is chained."""


class UnknownModelError(ModelmonError):
    """A model name that the monitoring config does not define."""


class MissingDependencyError(ModelmonError, ImportError):
    """An optional extra is not installed."""


def require(module: str, extra: str) -> Any:
    """Import an optional dependency or say which extra installs it.

    >>> require("json", "core").dumps([1])
    '[1]'
    >>> require("no_such_module_xyz", "explain")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    modelmon.errors.MissingDependencyError: no_such_module_xyz is needed for this feature: ...
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{module} is needed for this feature: pip install 'modelmon[{extra}]'"
        ) from exc
