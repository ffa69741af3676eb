"""The opt-in action of an alert: a run of a Prefect deployment, through Prefect's REST API.

The deployment is looked up by name (``GET {api}/deployments/name/{flow}/{deployment}``), then a
flow run is created with the parameters ``model``, ``since``, ``until`` and ``report_id``
(``POST .../deployments/{id}/create_flow_run``). Only the standard library is used, so the service
needs no Prefect install to start a run on a Prefect server. A 503 or 429 (Prefect's answer when
its database is busy: nothing was written) is sent again after its ``Retry-After`` (at most 2 s), up
to :data:`ATTEMPTS` times in all, as Prefect's own client does.
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

__all__ = ["ATTEMPTS", "ActionError", "start_deployment"]

#: tries of one request that Prefect answers 503 or 429
ATTEMPTS = 5
_RETRYABLE = frozenset({429, 503})


class ActionError(Exception):
    """Prefect could not be reached or refused the run; the message says which and why."""


def _call(url: str, body: Any | None, timeout: float) -> Any:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _call_once(url, body, timeout)
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            if exc.code not in _RETRYABLE or attempt == ATTEMPTS:
                tries = f" (after {attempt} tries)" if attempt > 1 else ""
                path = urllib.parse.urlsplit(url).path
                raise ActionError(f"Prefect answered {exc.code} to {path}{tries}: {detail}") from exc
            time.sleep(_retry_after(exc.headers.get("Retry-After")))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ActionError(f"could not reach Prefect's API: {getattr(exc, 'reason', exc)}") from exc
    raise AssertionError("unreachable")  # pragma: no cover


def _call_once(url: str, body: Any | None, timeout: float) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"}, method="GET" if body is None else "POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return json.loads(answer.read() or b"null")


def _retry_after(value: str | None) -> float:
    """Seconds to wait before sending again: the header's, between 0.1 and 2 s.

    >>> _retry_after("30"), _retry_after(None), _retry_after("soon"), _retry_after("nan")
    (2.0, 0.5, 0.5, 0.5)
    """
    try:
        seconds = float(value) if value is not None else 0.5
    except ValueError:
        seconds = 0.5
    return min(max(seconds, 0.1), 2.0) if math.isfinite(seconds) else 0.5


def start_deployment(
    api_url: str, deployment: str, parameters: dict[str, Any], timeout: float = 10.0
) -> dict[str, Any]:
    """Start a run of ``deployment`` (``flow-name/deployment-name``); the run's ``id`` and ``name``."""
    flow_name, deployment_name = deployment.split("/", 1)
    quoted = "/".join(urllib.parse.quote(part, safe="") for part in (flow_name, deployment_name))
    found = _call(f"{api_url}/deployments/name/{quoted}", None, timeout)
    run = _call(f"{api_url}/deployments/{found['id']}/create_flow_run", {"parameters": parameters}, timeout)
    return {"id": run.get("id"), "name": run.get("name"), "deployment_id": found["id"]}
