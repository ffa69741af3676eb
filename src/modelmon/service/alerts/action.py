"""The opt-in action of an alert: a run of a Prefect deployment, through Prefect's REST API.

The deployment is looked up by name (``GET {api}/deployments/name/{flow}/{deployment}``), then a
flow run is created with the parameters ``model``, ``since``, ``until`` and ``report_id``
(``POST .../deployments/{id}/create_flow_run``). Only the standard library is used, so the service
needs no Prefect install to start a run on a Prefect server.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

__all__ = ["ActionError", "start_deployment"]


class ActionError(Exception):
    """Prefect could not be reached or refused the run; the message says which and why."""


def _call(url: str, body: Any | None, timeout: float) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"}, method="GET" if body is None else "POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace")
        raise ActionError(
            f"Prefect answered {exc.code} to {urllib.parse.urlsplit(url).path}: {detail}"
        ) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ActionError(f"could not reach Prefect's API: {getattr(exc, 'reason', exc)}") from exc


def start_deployment(
    api_url: str, deployment: str, parameters: dict[str, Any], timeout: float = 10.0
) -> dict[str, Any]:
    """Start a run of ``deployment`` (``flow-name/deployment-name``); the run's ``id`` and ``name``."""
    flow_name, deployment_name = deployment.split("/", 1)
    quoted = "/".join(urllib.parse.quote(part, safe="") for part in (flow_name, deployment_name))
    found = _call(f"{api_url}/deployments/name/{quoted}", None, timeout)
    run = _call(f"{api_url}/deployments/{found['id']}/create_flow_run", {"parameters": parameters}, timeout)
    return {"id": run.get("id"), "name": run.get("name"), "deployment_id": found["id"]}
