"""POST one batch to the monitoring service and decide what becomes of it: sent, refused, or retry later.

The rules follow the ingest contract: 2xx is an answer ``{"accepted": n, "rejected": [{"index", "error"}]}``;
401, 408, 429, 5xx and connection errors are worth retrying (a token may be fixed, the service may come
back; a 503 says the service could not take the batch now, and its ``Retry-After`` how long to wait);
any other 4xx means the batch itself is bad and sending it again will not help.

>>> post_batch("http://127.0.0.1:9/v1/models/m/events", b'{"events": []}', count=0, timeout=0.5).outcome
<Outcome.RETRY: 'retry'>
"""

from __future__ import annotations

import enum
import http.client
import json
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

__all__ = ["Answer", "Outcome", "endpoint_url", "post_batch"]

RETRY_STATUSES = frozenset({401, 408, 429})


class Outcome(enum.Enum):
    SENT = "sent"
    REFUSED = "refused"
    RETRY = "retry"


@dataclass(frozen=True)
class Answer:
    """What the service said about a batch; ``rejected`` holds ``(index, error)`` of refused items."""

    outcome: Outcome
    accepted: int = 0
    rejected: tuple[tuple[int, str], ...] = ()
    status: int | None = None
    error: str = ""
    retry_after: float | None = None  # seconds the service asked to wait (``Retry-After``)


def endpoint_url(base_url: str, model: str, kind: str) -> str:
    """``{base_url}/v1/models/{model}/{kind}`` with the model name quoted.

    >>> endpoint_url("http://monitor:8085/", "taxi duration", "events")
    'http://monitor:8085/v1/models/taxi%20duration/events'
    """
    return f"{base_url.rstrip('/')}/v1/models/{quote(model, safe='')}/{kind}"


def post_batch(
    url: str, body: bytes, *, count: int, token: str | None = None, timeout: float = 2.0
) -> Answer:
    """Send ``body`` (a JSON batch of ``count`` items) and classify the answer; never raises for I/O."""
    parts = urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        connection = connection_class(parts.hostname or "localhost", parts.port, timeout=timeout)
    except (ValueError, http.client.HTTPException) as exc:
        return Answer(Outcome.REFUSED, error=f"bad monitoring service URL {url!r}: {exc}")
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        status, payload = response.status, response.read()
        retry_after = _seconds(response.getheader("Retry-After"))
    except (OSError, http.client.HTTPException) as exc:  # timeouts and refused connections are OSErrors
        return Answer(Outcome.RETRY, error=f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()
    if 200 <= status < 300:
        return _accepted(status, payload, count)
    error = f"HTTP {status}: {_error_text(payload)}"
    if status in RETRY_STATUSES or status >= 500:
        return Answer(Outcome.RETRY, status=status, error=error, retry_after=retry_after)
    return Answer(Outcome.REFUSED, status=status, error=error)


def _seconds(header: str | None) -> float | None:
    """A ``Retry-After`` of delay seconds (an HTTP date is not worth parsing here: None)."""
    try:
        return max(0.0, min(float(header), 300.0)) if header else None
    except ValueError:
        return None


def _accepted(status: int, payload: bytes, count: int) -> Answer:
    try:
        data = json.loads(payload) if payload.strip() else {}
        rejected = tuple((int(r.get("index", -1)), str(r.get("error", ""))) for r in data.get("rejected", []))
        accepted = int(data.get("accepted", count - len(rejected)))
    except (ValueError, TypeError, AttributeError):
        # The batch was received (2xx) even if the answer is not the documented shape.
        return Answer(Outcome.SENT, accepted=count, status=status)
    return Answer(Outcome.SENT, accepted=accepted, rejected=rejected, status=status)


def _error_text(payload: bytes) -> str:
    text = payload.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:300] or "(empty answer)"
    if isinstance(data, dict) and "error" in data:
        return str(data["error"])[:300]
    return text[:300]
