"""Alertmanager's webhook body (version 4), as ``POST /v1/alerts`` takes it.

:data:`ALERTS_BODY` is the JSON Schema the handler checks with and ``/openapi.json`` shows;
:func:`parse_alerts` turns a checked body into :class:`Alert` items.

>>> body = {
...     "version": "4", "status": "firing", "groupKey": "{}:{alertname=\\"ModelmonFeatureDrift\\"}",
...     "alerts": [{
...         "status": "firing", "fingerprint": "5d2a1c", "startsAt": "2026-12-07T06:00:00Z",
...         "endsAt": "0001-01-01T00:00:00Z",
...         "labels": {"alertname": "ModelmonFeatureDrift", "model": "taxi", "column": "trip_distance"},
...         "annotations": {"summary": "trip_distance drifted"},
...     }],
... }
>>> alert = parse_alerts(body)[0]
>>> alert.name, alert.model, alert.firing, alert.starts_at.isoformat()
('ModelmonFeatureDrift', 'taxi', True, '2026-12-07T06:00:00+00:00')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["ALERT", "ALERTS_ANSWER", "ALERTS_BODY", "Alert", "parse_alerts"]

_LABELS = {
    "type": "object",
    "maxProperties": 64,
    "additionalProperties": {"type": "string", "maxLength": 1024},
}
#: RFC 3339 date-time (what Alertmanager sends; Go's zero time marks an alert without an end)
RFC3339 = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_TIME = {
    "type": "string",
    "format": "date-time",
    "pattern": RFC3339,
    "maxLength": 64,
    "description": "RFC 3339 time.",
}

ALERT: dict[str, Any] = {
    "type": "object",
    "description": "One alert of the group (Alertmanager's webhook, version 4).",
    "required": ["status", "labels", "startsAt", "fingerprint"],
    "properties": {
        "status": {"type": "string", "enum": ["firing", "resolved"]},
        "labels": {**_LABELS, "description": "The alert's labels; modelmon reads model and alertname."},
        "annotations": _LABELS,
        "startsAt": _TIME,
        "endsAt": _TIME,
        "generatorURL": {"type": "string", "maxLength": 4096},
        "fingerprint": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[0-9A-Za-z]+$"},
    },
}

ALERTS_BODY: dict[str, Any] = {
    "type": "object",
    "description": "Alertmanager's webhook notification, version 4 (a webhook_config's body).",
    "required": ["version", "alerts"],
    "properties": {
        "version": {"type": "string", "enum": ["4"]},
        "groupKey": {"type": "string", "maxLength": 4096},
        "truncatedAlerts": {"type": "integer", "minimum": 0},
        "status": {"type": "string", "enum": ["firing", "resolved"]},
        "receiver": {"type": "string", "maxLength": 1024},
        "groupLabels": _LABELS,
        "commonLabels": _LABELS,
        "commonAnnotations": _LABELS,
        "externalURL": {"type": "string", "maxLength": 4096},
        "alerts": {"type": "array", "maxItems": 1000, "items": ALERT},
    },
}

ALERTS_ANSWER: dict[str, Any] = {
    "type": "object",
    "required": ["alerts", "ignored"],
    "properties": {
        "alerts": {
            "type": "array",
            "description": "The alerts that name a monitored model, with their diagnostic report.",
            "items": {
                "type": "object",
                "required": ["fingerprint", "model", "status"],
                "properties": {
                    "fingerprint": {"type": "string"},
                    "model": {"type": "string"},
                    "status": {"type": "string"},
                    "report": {"type": "string", "description": "building, ready, failed or skipped"},
                    "report_id": {"type": ["string", "null"]},
                    "new": {"type": "boolean"},
                },
            },
        },
        "ignored": {
            "type": "array",
            "description": "Alerts without a monitored model (index and why).",
            "items": {"type": "object", "required": ["index", "reason"]},
        },
    },
}


@dataclass(frozen=True)
class Alert:
    """One alert of a notification."""

    name: str
    model: str | None
    firing: bool
    fingerprint: str
    starts_at: datetime
    ends_at: datetime | None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """One alert and one period: Alertmanager keeps the fingerprint and ``startsAt`` while it fires."""
        return f"{self.fingerprint}@{self.starts_at.isoformat()}"


def _time(text: str | None, what: str) -> datetime | None:
    if not text or text.startswith("0001-01-01"):  # Go's zero time: not ended
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{what}: {text[:64]!r} is not an RFC 3339 time") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_alerts(body: Mapping[str, Any]) -> list[Alert]:
    """The alerts of a body already checked against :data:`ALERTS_BODY`; ``ValueError`` names a bad time."""
    alerts = []
    for index, item in enumerate(body["alerts"]):
        labels = item["labels"]
        starts_at = _time(item["startsAt"], f"alerts.{index}.startsAt")
        if starts_at is None:
            raise ValueError(f"alerts.{index}.startsAt: an alert needs the time it started")
        alerts.append(
            Alert(
                name=labels.get("alertname", ""),
                model=labels.get("model"),
                firing=item["status"] == "firing",
                fingerprint=item["fingerprint"],
                starts_at=starts_at,
                ends_at=_time(item.get("endsAt"), f"alerts.{index}.endsAt"),
                labels=dict(labels),
                annotations=dict(item.get("annotations") or {}),
            )
        )
    return alerts
