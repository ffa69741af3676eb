"""Instrument an ASGI prediction service (FastAPI, Starlette): request metrics, latency, ``/metrics``.

A plain ASGI middleware, so it needs neither Starlette nor FastAPI::

    app = FastAPI()
    app.add_middleware(MonitorMiddleware, monitor=monitor)      # or: app = MonitorMiddleware(app, monitor)

The endpoint label is the matched route's path template (``/rides/{ride_id}``), read from the ``route``
that Starlette's router leaves in the scope; unmatched requests, and routes outside ``endpoints`` when
given, count under ``"other"``. An exception that escapes the app counts as status 500.

>>> import asyncio
>>> from prometheus_client import CollectorRegistry
>>> async def hello(scope, receive, send):
...     await send({"type": "http.response.start", "status": 204, "headers": []})
...     await send({"type": "http.response.body", "body": b""})
>>> registry = CollectorRegistry()
>>> app = MonitorMiddleware(hello, registry=registry)
>>> async def noop(message=None):
...     return {"type": "http.request", "body": b"", "more_body": False}
>>> asyncio.run(app({"type": "http", "method": "GET", "path": "/"}, noop, noop))
>>> registry.get_sample_value("modelmon_http_requests_total", {"endpoint": "other", "status": "204"})
1.0
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from time import perf_counter
from typing import TYPE_CHECKING, Any

from modelmon.client.metrics import endpoint_label, http_metrics, metrics_page, register_monitor
from modelmon.client.timing import request_finished, request_started

if TYPE_CHECKING:
    from modelmon.client.monitor import Monitor

__all__ = ["MonitorMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class MonitorMiddleware:
    """Count and time each HTTP request, expose ``metrics_path``, and let handlers read their latency."""

    def __init__(
        self,
        app: ASGIApp,
        monitor: Monitor | None = None,
        registry: Any = None,
        endpoints: Iterable[str] | None = None,
        metrics_path: str = "/metrics",
    ) -> None:
        self.app = app
        self.monitor = monitor
        self.registry = registry
        self.endpoints = frozenset(endpoints) if endpoints is not None else None
        self.metrics_path = metrics_path
        self._metrics = http_metrics(registry)
        if monitor is not None:
            register_monitor(monitor, registry)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == self.metrics_path and scope.get("method", "GET") in ("GET", "HEAD"):
            await self._serve_metrics(send)
            return
        start = perf_counter()
        token = request_started(start)
        status: int | None = None

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        except Exception:
            status = 500
            raise
        finally:
            request_finished(token)
            # The router writes the matched route into the scope dict it was given, which is this one.
            route = getattr(scope.get("route"), "path", None)
            label = endpoint_label(route, self.endpoints)
            self._metrics.record(label, 500 if status is None else status, perf_counter() - start)

    async def _serve_metrics(self, send: Send) -> None:
        body, content_type = metrics_page(self.registry)
        headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
