"""Every error modelmon raises on purpose.

The hierarchy::

    ModelmonError
    ├── ConfigError          the monitoring config file or a CLI option is wrong
    ├── SchemaError          columns missing, unexpected, or of the wrong kind
    ├── InputError           a data file, an event or a request body cannot be used
    │   ├── EventError       one ingested event is invalid (the batch keeps the valid ones)
    │   ├── BodyError        a request body refused before a handler reads it (its HTTP status)
    │   ├── CheckError       a check condition that cannot be read, or a report path it lacks
    │   └── UnknownReportError   no stored report has this id (also a LookupError)
    ├── ChecksFailed         a pipeline's checks did not all hold (the batch flow fails its run)
    ├── StoreError           the event/report/metric store failed (third-party errors chained)
    ├── JournalError         the service's journal could not write a batch: it was not accepted
    ├── ServiceBusy          the service cannot take a batch now (answered 503 with Retry-After)
    ├── SpoolLockedError     another process holds the client's spool file (also an OSError)
    ├── MissingDependencyError   an optional extra is not installed; says what to pip install
    └── UnknownModelError    a model name that the config does not define

Third-party errors are mapped at the boundary and re-raised ``from`` the original,
so the real cause stays in the traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelmon.engine.checks import CheckSuite

__all__ = [
    "BodyError",
    "CheckError",
    "ChecksFailed",
    "ConfigError",
    "EventError",
    "InputError",
    "JournalError",
    "MissingDependencyError",
    "ModelmonError",
    "SchemaError",
    "ServiceBusy",
    "SpoolLockedError",
    "StoreError",
    "UnknownModelError",
    "UnknownReportError",
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


class BodyError(InputError):
    """A body refused before it reaches a handler; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class CheckError(InputError):
    """A condition that cannot be read, or a path the report does not have."""


class UnknownReportError(InputError, LookupError):
    """No stored report has this id."""


class ChecksFailed(ModelmonError):
    """Raised by pipelines (the batch flow) when a check does not hold, to fail the run.

    ``suite`` is the :class:`~modelmon.engine.checks.CheckSuite`; the message names each failed check.
    """

    def __init__(self, suite: CheckSuite) -> None:
        self.suite = suite
        failed = "; ".join(f"{check.name}: {check.detail}" for check in suite.failed)
        super().__init__(f"{len(suite.failed)} of {len(suite.checks)} checks failed: {failed}")


class StoreError(ModelmonError):
    """The store (SQLite, MongoDB or PostgreSQL) failed; the driver's error is chained."""


class JournalError(ModelmonError):
    """The journal could not write a batch (disk full, read-only, ...): it was not accepted."""


class ServiceBusy(ModelmonError):
    """The service cannot take a batch now; answered 503 with ``Retry-After: retry_after``."""

    def __init__(self, message: str, reason: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry_after = retry_after


class SpoolLockedError(ModelmonError, OSError):
    """Another process holds the client's spool file."""


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
