"""Enriched notifications: the alert, its top findings and a link to its diagnostic report.

Two bodies: a generic JSON document (``webhook``) and a Slack-compatible incoming-webhook body
(``slack``: ``text`` plus ``blocks``, which Slack, Mattermost and Rocket.Chat take). Each is posted
with a timeout; the outcome is returned, never raised, so one receiver that is down delays no other.

>>> entry = {"alertname": "ModelmonFeatureDrift", "model": "taxi", "status": "firing",
...          "starts_at": "2026-12-07T06:00:00+00:00", "fingerprint": "5d2a1c",
...          "report": {"state": "ready", "id": "ab12", "url": "http://m:8085/v1/reports/ab12/html"},
...          "findings": {"lines": ["drift: trip_distance (wasserstein 0.9 >= 0.1)"]}}
>>> slack_body(entry)["text"]
'[FIRING] ModelmonFeatureDrift on taxi'
>>> webhook_body(entry)["report"]["url"]
'http://m:8085/v1/reports/ab12/html'
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from modelmon.config.alerts import Receiver

__all__ = ["deliver", "slack_body", "webhook_body"]


def webhook_body(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The generic JSON notification."""
    report = entry.get("report") or {}
    return {
        "source": "modelmon",
        "alert": {
            key: entry.get(key)
            for key in ("alertname", "model", "status", "fingerprint", "starts_at", "ends_at", "labels")
        },
        "summary": (entry.get("findings") or {}).get("lines", []),
        "report": {key: report.get(key) for key in ("state", "id", "url", "since", "until", "rows", "error")},
        "findings": entry.get("findings"),
    }


def slack_body(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A Slack-compatible incoming-webhook body (``text`` for notifications, ``blocks`` for the message)."""
    title = f"[{str(entry.get('status', '')).upper()}] {entry.get('alertname')} on {entry.get('model')}"
    lines = (entry.get("findings") or {}).get("lines", [])
    report = entry.get("report") or {}
    body = "\n".join(f"• {line}" for line in lines) or "(no findings: see the report)"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": body[:2900]}},
    ]
    if report.get("url"):
        link = f"<{report['url']}|Open the diagnostic report>"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": link}]})
    elif report.get("error"):
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": report["error"][:300]}]})
    return {"text": title, "blocks": blocks}


def deliver(receiver: Receiver, entry: Mapping[str, Any]) -> dict[str, Any]:
    """Post ``entry`` to ``receiver``; ``{"receiver", "ok", "status", "error", "at"}``."""
    body = slack_body(entry) if receiver.kind == "slack" else webhook_body(entry)
    request = urllib.request.Request(
        receiver.url,
        data=json.dumps(body, default=str).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "modelmon-alerts"},
        method="POST",
    )
    outcome: dict[str, Any] = {"receiver": receiver.name, "ok": False, "status": None, "error": None,
                               "at": time.time()}  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=receiver.timeout_seconds) as answer:
            outcome["status"] = answer.status
            outcome["ok"] = 200 <= answer.status < 300
    except urllib.error.HTTPError as exc:
        outcome["status"], outcome["error"] = exc.code, f"the receiver answered {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        outcome["error"] = f"could not reach the receiver: {reason}"
    return outcome
