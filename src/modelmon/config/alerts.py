"""The ``alerts:`` section of the monitoring config: where enriched notifications go, and which
model's confirmed alert starts which Prefect deployment.

>>> settings = parse_alerts_section(
...     {
...         "public_url": "https://modelmon.example.com/",
...         "receivers": [{"name": "ops", "type": "webhook", "url": "http://127.0.0.1:9/hook"}],
...         "actions": {"taxi": {"deployment": "retrain/taxi", "cooldown_seconds": 600}},
...     },
...     models=["taxi"],
...     environ={},
... )
>>> settings.public_url, settings.receivers[0].kind, settings.actions["taxi"].cooldown_seconds
('https://modelmon.example.com', 'webhook', 600.0)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelmon.errors import ConfigError

__all__ = ["AlertAction", "AlertSettings", "Receiver", "parse_alerts_section"]

_KEYS = {"public_url", "receivers", "actions", "prefect_api_url", "lookback_seconds"}
_RECEIVER_KEYS = {"name", "type", "url", "url_file", "timeout_seconds"}
_ACTION_KEYS = {"deployment", "cooldown_seconds", "alerts", "prefect_api_url"}
#: the bodies modelmon can send: a generic JSON document, or a Slack-compatible incoming webhook body
RECEIVER_KINDS = ("webhook", "slack")


@dataclass(frozen=True)
class Receiver:
    """Where an enriched notification is posted."""

    name: str
    kind: str
    url: str
    timeout_seconds: float = 5.0


@dataclass(frozen=True)
class AlertAction:
    """A Prefect deployment (``flow-name/deployment-name``) started when an alert of ``model`` fires.

    It gets the parameters ``model``, ``since``, ``until`` and ``report_id``; at most one run starts
    per ``cooldown_seconds``; ``alerts`` limits it to those alert names (empty: any alert).
    """

    model: str
    deployment: str
    cooldown_seconds: float = 3600.0
    alerts: tuple[str, ...] = ()
    prefect_api_url: str | None = None


@dataclass(frozen=True)
class AlertSettings:
    """What modelmon does with the alerts Alertmanager sends to ``POST /v1/alerts``."""

    #: the service's address as people reach it, for the report links of notifications
    public_url: str | None = None
    receivers: tuple[Receiver, ...] = ()
    actions: Mapping[str, AlertAction] = field(default_factory=dict)
    #: Prefect's API (``PREFECT_API_URL`` when unset)
    prefect_api_url: str | None = None
    #: how far before an alert's start its report looks when the model's window counts rows
    lookback_seconds: float = 3600.0


def _mapping(data: Any, where: str, keys: set[str]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {data!r}")
    unknown = set(data) - keys
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; valid keys: {sorted(keys)}")
    return data


def _url(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: expected an http:// or https:// URL, got {value!r}")
    return value


def _positive(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{where}: expected a positive number of seconds, got {value!r}")
    return float(value)


def _receiver(index: int, data: Any, base: Path) -> Receiver:
    where = f"alerts.receivers[{index}]"
    data = _mapping(data, where, _RECEIVER_KEYS)
    kind = data.get("type", "webhook")
    if kind not in RECEIVER_KINDS:
        raise ConfigError(f"{where}.type: expected one of {list(RECEIVER_KINDS)}, got {kind!r}")
    if ("url" in data) == ("url_file" in data):
        raise ConfigError(f"{where}: give exactly one of url or url_file (a file holding the URL)")
    if "url_file" in data:  # a webhook URL is a secret: keep it in a mounted file
        path = Path(str(data["url_file"]))
        path = path if path.is_absolute() else base / path
        try:
            url = path.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{where}.url_file: cannot read {path.name}: {exc.strerror or exc}") from exc
    else:
        url = data["url"]
    name = data.get("name", f"{kind}-{index}")
    if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"{where}.name: expected letters, digits, - and _, got {name!r}")
    return Receiver(name, kind, _url(url, where), _positive(data.get("timeout_seconds", 5.0), where))


def _action(model: str, data: Any, models: Sequence[str]) -> AlertAction:
    where = f"alerts.actions.{model}"
    if model not in models:
        raise ConfigError(f"{where}: no model {model!r} in the config (known models: {', '.join(models)})")
    data = _mapping(data, where, _ACTION_KEYS)
    deployment = data.get("deployment")
    if not isinstance(deployment, str) or deployment.count("/") != 1 or "" in deployment.split("/"):
        raise ConfigError(f"{where}.deployment: expected 'flow-name/deployment-name', got {deployment!r}")
    alerts = data.get("alerts", [])
    if not isinstance(alerts, list) or not all(isinstance(name, str) for name in alerts):
        raise ConfigError(f"{where}.alerts: expected a list of alert names, got {alerts!r}")
    api = data.get("prefect_api_url")
    return AlertAction(
        model=model,
        deployment=deployment,
        cooldown_seconds=_positive(data.get("cooldown_seconds", 3600), f"{where}.cooldown_seconds"),
        alerts=tuple(alerts),
        prefect_api_url=None if api is None else _url(api, f"{where}.prefect_api_url").rstrip("/"),
    )


def parse_alerts_section(
    data: Any, models: Sequence[str], base: Path = Path("."), environ: Mapping[str, str] = os.environ
) -> AlertSettings:
    """The checked ``alerts:`` section (``None`` or absent: no receivers, no actions)."""
    if data is None:
        data = {}
    data = _mapping(data, "alerts", _KEYS)
    receivers = data.get("receivers") or []
    if not isinstance(receivers, list):
        raise ConfigError(f"alerts.receivers: expected a list, got {receivers!r}")
    actions = data.get("actions") or {}
    if not isinstance(actions, Mapping):
        raise ConfigError(f"alerts.actions: expected a mapping of model name -> action, got {actions!r}")
    public_url = data.get("public_url")
    api = data.get("prefect_api_url") or environ.get("PREFECT_API_URL")
    parsed = tuple(_receiver(index, item, base) for index, item in enumerate(receivers))
    names = [receiver.name for receiver in parsed]
    if len(set(names)) != len(names):
        raise ConfigError(f"alerts.receivers: names must differ, got {names}")
    return AlertSettings(
        public_url=None if public_url is None else _url(public_url, "alerts.public_url").rstrip("/"),
        receivers=parsed,
        actions={str(model): _action(str(model), spec, models) for model, spec in actions.items()},
        prefect_api_url=None if api is None else _url(api, "alerts.prefect_api_url").rstrip("/"),
        lookback_seconds=_positive(data.get("lookback_seconds", 3600), "alerts.lookback_seconds"),
    )
