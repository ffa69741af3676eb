"""The monitoring config file (YAML).

One file describes the store, where reports go, and every monitored model: its schema, reference
dataset, window and drift settings. Relative paths are relative to the config file, so a config
and its data can move together. An optional ``shards:`` section splits the models over several
monitoring processes (:mod:`modelmon.config.shards`).

>>> import textwrap, tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "modelmon.yml").write_text(textwrap.dedent('''
...     store: sqlite:///modelmon.db
...     models:
...       taxi:
...         task: regression
...         reference: ref.parquet
...         numerical: [trip_distance]
...         prediction: duration
...         window: {rows: 500}
... '''))
>>> config = load_config(folder / "modelmon.yml")
>>> config.models["taxi"].window, config.models["taxi"].schema.numerical
(Window(rows=500, seconds=None), ('trip_distance',))
>>> config.models["taxi"].reference.name
'ref.parquet'
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelmon.compat.evidently_config import compat_monitors, is_evidently_config, translate
from modelmon.config.alerts import AlertSettings, parse_alerts_section
from modelmon.config.shards import Shard, parse_shards_section
from modelmon.errors import ConfigError, SchemaError, UnknownModelError
from modelmon.schema import Schema

__all__ = [
    "Config",
    "DriftSettings",
    "IngestSettings",
    "Limits",
    "ModelConfig",
    "Window",
    "load_config",
    "parse_config",
]

_MODEL_KEYS = {
    "reference", "window", "refresh_seconds", "model_file", "drift", "health_url", "buckets", "compat",
    "dedup_ids", "max_awaiting_target",
}  # fmt: skip
_TOP_KEYS = {
    "store",
    "reports_dir",
    "auth_token",
    "read_token",
    "health",
    "models",
    "max_body_bytes",
    "ingest",
    "limits",
    "shards",
    "alerts",
}
_INGEST_KEYS = {"journal_dir", "max_backlog", "fsync", "future_tolerance_seconds"}
#: how far ahead of the service's clock an event's timestamp may be (a sender's clock runs a little fast)
FUTURE_TOLERANCE_SECONDS = 300.0
#: event ids of a model remembered to know a resend, at least (twice a larger window by rows, up to 1M)
DEDUP_IDS = 200_000
#: events of a model whose record waits in the window for a late target, at most
MAX_AWAITING_TARGET = 100_000
_LIMITS_KEYS = {"header_seconds", "body_seconds", "connections", "body_bytes_in_flight"}
#: the roles whose columns a model's reference must have: the events bring the prediction, id and
#: timestamp. With ``compat:``, a target named ``target`` may be absent: it is the old ColumnMapping's
#: default, which an Evidently config holds unless it says otherwise and the old service ignored
REFERENCE_ROLES = (
    "numerical", "categorical", "probabilities", "target", "segments", "sensitive", "embeddings",
)  # fmt: skip


@dataclass(frozen=True)
class Window:
    """A sliding window of the most recent ``rows`` events or the last ``seconds`` seconds."""

    rows: int | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if (self.rows is None) == (self.seconds is None):
            raise ConfigError("window: give exactly one of {rows: N} or {seconds: S}")
        if self.rows is not None and (not isinstance(self.rows, int) or self.rows < 1):
            raise ConfigError(f"window.rows: expected a positive integer, got {self.rows!r}")
        if self.seconds is not None and (not isinstance(self.seconds, int | float) or self.seconds <= 0):
            raise ConfigError(f"window.seconds: expected a positive number, got {self.seconds!r}")


@dataclass(frozen=True)
class DriftSettings:
    """Drift test choice: a method and threshold for all columns, and per-column overrides."""

    method: str | None = None
    threshold: float | None = None
    columns: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    correction: str | None = None
    dataset_share: float = 0.5
    #: one minimum of current values for every test's verdict (None: each test's own, 0: no warm-up)
    min_rows: int | None = None
    #: embedding set -> {method, threshold}; see modelmon.engine.drift.embeddings
    embeddings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelConfig:
    """One monitored model."""

    name: str
    schema: Schema
    reference: Path | None = None
    window: Window = field(default_factory=lambda: Window(rows=1000))
    refresh_seconds: float = 5.0
    model_file: Path | None = None
    drift: DriftSettings = field(default_factory=DriftSettings)
    health_url: str | None = None
    buckets: int = 50
    #: the old Evidently monitors whose ``evidently:*`` series are exported too (``compat:``)
    compat: tuple[str, ...] | None = None
    #: how many of the latest event ids a resend is recognised by (counted and windowed once);
    #: None: :data:`DEDUP_IDS`, or twice a larger window by rows (up to a million)
    dedup_ids: int | None = None
    #: events whose record waits in the window for a late target; beyond, the oldest are forgotten
    #: (counted) and their targets count as unmatched
    max_awaiting_target: int = MAX_AWAITING_TARGET

    def check_reference_columns(
        self, columns: Iterable[str], unsupported: Mapping[str, str] | None = None
    ) -> None:
        """Raise a :class:`SchemaError` naming each column the model's config names that its
        reference (with ``columns``) lacks, with the closest name, or that holds structs or lists
        (``unsupported``: column -> type): a misspelt ``target`` or ``segments`` must not pass as
        "no labels" or "no segments" (the events bring the prediction, id and timestamp, and a
        reference without predictions is accepted: see :mod:`modelmon.service.reference`).

        >>> model = ModelConfig("taxi", Schema(numerical=["distance"], target="duraton"), Path("ref.csv"))
        >>> model.check_reference_columns(["distance", "duration"])
        Traceback (most recent call last):
        ...
        modelmon.errors.SchemaError: target 'duraton': models.taxi.reference (ref.csv) has no such \
column (did you mean 'duration'?); its columns: distance, duration
        """
        old_default = self.compat is not None and self.schema.target == "target"
        roles = [role for role in REFERENCE_ROLES if not (role == "target" and old_default)]
        where = f"models.{self.name}.reference ({self.reference})"
        self.schema.check_columns(columns, data=where, unsupported=unsupported, roles=roles)

    @property
    def resend_horizon(self) -> int:
        """The number of latest event ids a resend is recognised by."""
        if self.dedup_ids is not None:
            return self.dedup_ids
        rows = self.window.rows or 0
        return max(DEDUP_IDS, min(2 * rows, 1_000_000))


@dataclass(frozen=True)
class IngestSettings:
    """How the service makes accepted events durable (see docs/guarantees.md).

    ``journal_dir``: where accepted batches are journaled until the store has them (by default a
    ``<file>.journal`` folder beside a SQLite store, else ``modelmon-journal`` beside the config when
    that folder is writable, else ``journal`` in the data folder, ``MODELMON_DATA_DIR``);
    ``max_backlog``: events accepted but not yet in the store beyond which ingest answers 503;
    ``fsync``: ``group`` (fsync before answering) or ``interval`` (written to the OS before
    answering, fsynced every 50 ms); ``future_tolerance_seconds``: an event stamped further ahead
    of the service's clock is rejected (``timestamp``), so no sender's clock can hold a window.
    """

    journal_dir: Path | None = None
    max_backlog: int = 200_000
    fsync: str = "interval"
    future_tolerance_seconds: float = FUTURE_TOLERANCE_SECONDS

    def __post_init__(self) -> None:
        if self.fsync not in ("group", "interval"):
            raise ConfigError(f"ingest.fsync: expected 'group' or 'interval', got {self.fsync!r}")
        if not isinstance(self.max_backlog, int) or self.max_backlog < 1:
            raise ConfigError(f"ingest.max_backlog: expected a positive integer, got {self.max_backlog!r}")
        tolerance = self.future_tolerance_seconds
        if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or not 0 <= tolerance < 1e9:
            raise ConfigError(
                "ingest.future_tolerance_seconds: expected a number of seconds from 0 to 1e9, "
                f"got {tolerance!r}"
            )


def _ingest(data: Any, base: Path) -> IngestSettings:
    if not isinstance(data, Mapping) or set(data) - _INGEST_KEYS:
        raise ConfigError(f"ingest: expected a mapping with keys among {sorted(_INGEST_KEYS)}, got {data!r}")
    return IngestSettings(
        journal_dir=_path(data.get("journal_dir"), base, "ingest.journal_dir"),
        max_backlog=data.get("max_backlog", 200_000),
        fsync=data.get("fsync", "interval"),
        future_tolerance_seconds=data.get("future_tolerance_seconds", FUTURE_TOLERANCE_SECONDS),
    )


@dataclass(frozen=True)
class Limits:
    """What one client may hold of the service (see docs/guarantees.md).

    ``header_seconds``: a request's headers must arrive within this time of the connection (or of
    the previous answer on a kept-alive one), else 408 and the connection is closed;
    ``body_seconds``: its body within this time of its headers, else 408; ``connections``: open
    connections beyond which the oldest one still waiting for its headers (or idle) is closed to
    make room (never more than the process's file limit less 128); ``body_bytes_in_flight``: bytes
    of request bodies read, parsed and checked at once (by default twice ``max_body_bytes``), a body
    beyond that answered 503 with ``Retry-After``.
    """

    header_seconds: float = 10.0
    body_seconds: float = 60.0
    connections: int = 1000
    body_bytes_in_flight: int | None = None

    def __post_init__(self) -> None:
        for name in ("header_seconds", "body_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
                raise ConfigError(f"limits.{name}: expected seconds from 0 to 3600, got {value!r}")
        for name in ("connections", "body_bytes_in_flight"):
            value = getattr(self, name)
            if value is None and name == "body_bytes_in_flight":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"limits.{name}: expected a positive integer, got {value!r}")


def _limits(data: Any) -> Limits:
    if not isinstance(data, Mapping) or set(data) - _LIMITS_KEYS:
        raise ConfigError(f"limits: expected a mapping with keys among {sorted(_LIMITS_KEYS)}, got {data!r}")
    return Limits(**data)


def _body_budget(limits: Limits, max_body_bytes: int) -> Limits:
    """``limits``, once its budget of bodies (when given) is known to hold one body of the largest size;
    without one, the service takes twice ``max_body_bytes``."""
    budget = limits.body_bytes_in_flight
    if budget is not None and budget < max_body_bytes:
        raise ConfigError(
            f"limits.body_bytes_in_flight: {budget} cannot hold one body of "
            f"max_body_bytes ({max_body_bytes}); give at least that"
        )
    return limits


@dataclass(frozen=True)
class Config:
    """The whole monitoring config."""

    store: str = "sqlite:///modelmon.db"
    reports_dir: Path = Path("reports")
    auth_token: str | None = None
    read_token: str | None = None
    health: Mapping[str, str] = field(default_factory=dict)
    models: Mapping[str, ModelConfig] = field(default_factory=dict)
    max_body_bytes: int = 10 * 1024 * 1024
    path: Path | None = None
    ingest: IngestSettings = field(default_factory=IngestSettings)
    limits: Limits = field(default_factory=Limits)
    #: shard name -> :class:`Shard`, in the config's order; empty when the service runs as one process
    shards: Mapping[str, Shard] = field(default_factory=dict)
    #: what the service does with Alertmanager's notifications (``alerts:``)
    alerts: AlertSettings = field(default_factory=AlertSettings)

    def shard(self, name: str) -> Shard:
        """The shard called ``name``, or an error listing the known ones."""
        try:
            return self.shards[name]
        except KeyError:
            if not self.shards:
                raise ConfigError(f"shard {name!r}: the config has no shards: section") from None
            known = ", ".join(self.shards)
            raise ConfigError(f"shard {name!r} is not in the config (its shards: {known})") from None

    def model(self, name: str) -> ModelConfig:
        """The model called ``name``, or an error listing the known ones."""
        try:
            return self.models[name]
        except KeyError:
            known = ", ".join(sorted(self.models)) or "none"
            raise UnknownModelError(f"model {name!r} is not in the config (known models: {known})") from None


def _path(value: Any, base: Path, where: str) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str | os.PathLike):
        raise ConfigError(f"{where}: expected a file path, got {value!r}")
    path = Path(value)
    return path if path.is_absolute() else base / path


def _model(name: str, data: Any, base: Path) -> ModelConfig:
    where = f"models.{name}"
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping of settings, got {type(data).__name__}")
    schema_keys = {key: value for key, value in data.items() if key not in _MODEL_KEYS}
    try:
        schema = Schema.from_dict(schema_keys)
    except SchemaError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    window_data = data.get("window") or {"rows": 1000}
    if not isinstance(window_data, Mapping) or set(window_data) - {"rows", "seconds"}:
        raise ConfigError(f"{where}.window: expected {{rows: N}} or {{seconds: S}}, got {window_data!r}")
    try:
        window = Window(**window_data)
    except ConfigError as exc:
        raise ConfigError(f"{where}.{exc}") from exc
    drift_data = data.get("drift") or {}
    if not isinstance(drift_data, Mapping):
        raise ConfigError(f"{where}.drift: expected a mapping, got {drift_data!r}")
    try:
        drift = DriftSettings(**drift_data)
    except TypeError as exc:
        raise ConfigError(f"{where}.drift: {exc}") from exc
    refresh = data.get("refresh_seconds", 5.0)
    if not isinstance(refresh, int | float) or refresh <= 0:
        raise ConfigError(f"{where}.refresh_seconds: expected a positive number, got {refresh!r}")
    return ModelConfig(
        name=name,
        schema=schema,
        reference=_path(data.get("reference"), base, f"{where}.reference"),
        window=window,
        refresh_seconds=float(refresh),
        model_file=_path(data.get("model_file"), base, f"{where}.model_file"),
        drift=drift,
        health_url=data.get("health_url"),
        buckets=int(data.get("buckets", 50)),
        compat=compat_monitors(data.get("compat"), schema.task, f"{where}.compat"),
        dedup_ids=None if data.get("dedup_ids") is None else _count(data["dedup_ids"], f"{where}.dedup_ids"),
        max_awaiting_target=_count(
            data.get("max_awaiting_target", MAX_AWAITING_TARGET), f"{where}.max_awaiting_target"
        ),
    )


def _count(value: Any, where: str) -> int:
    if type(value) is not int or value < 0:
        raise ConfigError(f"{where}: expected a whole number >= 0, got {value!r}")
    return value


def _token(data: Mapping[str, Any], environ: Mapping[str, str], key: str, variable: str) -> str | None:
    """A token from ``$VARIABLE``, the file named by ``$VARIABLE_FILE``, or the config's ``key``."""
    where = variable
    token = environ.get(variable)
    if not token and environ.get(f"{variable}_FILE"):
        where = f"{variable}_FILE"
        try:
            token = Path(environ[where]).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read the token file: {exc.strerror or exc}") from exc
    if not token:
        where, token = key, data.get(key)
    if token is None:
        return None
    if not isinstance(token, str) or len(token) < 16 or token != token.strip():
        raise ConfigError(
            f"{where}: expected a token of at least 16 characters without surrounding spaces "
            "(for example the output of `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return token


def parse_config(
    data: Any, base: Path = Path("."), environ: Mapping[str, str] = os.environ, path: Path | None = None
) -> Config:
    """Build a :class:`Config` from parsed YAML.

    ``MODELMON_STORE`` overrides ``store``; ``MODELMON_TOKEN`` (or a file named by
    ``MODELMON_TOKEN_FILE``) overrides ``auth_token``, and ``MODELMON_READ_TOKEN`` (or
    ``MODELMON_READ_TOKEN_FILE``) ``read_token``, the token that may only read (dashboards, scrapes).
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"config {path or ''}: expected a mapping at the top level".replace("  ", " "))
    if is_evidently_config(data):  # Evidently's monitoring-service config.yaml, served as it is
        translation = translate(data, base)
        for comment in translation.comments:
            logging.getLogger(__name__).info("Evidently config option without a counterpart: %s", comment)
        data = translation.config
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"unknown config keys {sorted(unknown)}; valid keys: {sorted(_TOP_KEYS)}")
    models_data = data.get("models") or {}
    if not isinstance(models_data, Mapping):
        raise ConfigError("models: expected a mapping of model name -> settings")
    models = {str(name): _model(str(name), spec, base) for name, spec in models_data.items()}
    health = data.get("health") or {}
    if not isinstance(health, Mapping):
        raise ConfigError("health: expected a mapping of service name -> health URL")
    auth_token = _token(data, environ, "auth_token", "MODELMON_TOKEN")
    read_token = _token(data, environ, "read_token", "MODELMON_READ_TOKEN")
    if read_token is not None and auth_token is None:
        raise ConfigError(
            "read_token: set auth_token (or MODELMON_TOKEN) too; a read token alone leaves writes open"
        )
    if read_token is not None and read_token == auth_token:
        raise ConfigError("read_token: must differ from auth_token")
    max_body_bytes = int(data.get("max_body_bytes", 10 * 1024 * 1024))
    return Config(
        store=environ.get("MODELMON_STORE") or data.get("store") or "sqlite:///modelmon.db",
        reports_dir=_path(data.get("reports_dir", "reports"), base, "reports_dir") or Path("reports"),
        auth_token=auth_token,
        read_token=read_token,
        health={str(key): str(value) for key, value in health.items()},
        models=models,
        max_body_bytes=max_body_bytes,
        path=path,
        ingest=_ingest(data.get("ingest") or {}, base),
        limits=_body_budget(_limits(data.get("limits") or {}), max_body_bytes),
        shards=parse_shards_section(data.get("shards") or {}, list(models)),
        alerts=parse_alerts_section(data.get("alerts"), list(models), base, environ),
    )


def load_config(path: str | os.PathLike[str], environ: Mapping[str, str] = os.environ) -> Config:
    """Read and check a config file; errors name the file and the key at fault."""
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {file}: {exc.strerror or exc}") from exc
    import yaml  # here, not at the top: a report imports the config's settings, not its parser

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {file} is not valid YAML: {exc}") from exc
    try:
        return parse_config(data, base=file.parent, environ=environ, path=file)
    except ConfigError as exc:
        raise ConfigError(f"{file}: {exc}") from exc
