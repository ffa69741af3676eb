"""How long the current request has been running, for the event that the request logs.

The middlewares (:func:`~modelmon.client.instrument_flask`, :class:`~modelmon.client.MonitorMiddleware`)
mark the start of each request in a context variable; :meth:`Monitor.log` reads it when it is not given
``latency_ms``, so the event carries the latency that the service's own histogram measures.

>>> current_latency_ms() is None          # outside a request
True
>>> token = request_started()
>>> current_latency_ms() >= 0.0
True
>>> request_finished(token)
>>> current_latency_ms() is None
True
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from time import perf_counter

__all__ = ["current_latency_ms", "request_finished", "request_started"]

#: ``time.perf_counter()`` at the start of the request being served in this context, or None.
REQUEST_START: ContextVar[float | None] = ContextVar("modelmon_request_start", default=None)


def current_latency_ms() -> float | None:
    """Milliseconds since the in-flight request started, or None outside an instrumented request."""
    start = REQUEST_START.get()
    if start is None:
        return None
    return (perf_counter() - start) * 1000.0


def request_started(start: float | None = None) -> Token[float | None]:
    """Mark the start of a request in this context; give the token back to :func:`request_finished`."""
    return REQUEST_START.set(perf_counter() if start is None else start)


def request_finished(token: Token[float | None]) -> None:
    """Forget the request's start time.

    A server may finish the request in a copy of the context it started in (the token then belongs to
    another context), so fall back to clearing the variable instead of failing the response.
    """
    try:
        REQUEST_START.reset(token)
    except ValueError:
        REQUEST_START.set(None)
