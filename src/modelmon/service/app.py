"""The monitoring service's HTTP API (Starlette).

Routes (see the design's contracts): ingest of events and late targets, the old ``/iterate``
call, model list and summaries, metric history, stored reports, ``/health``, ``/metrics`` and
the built-in dashboard at ``/``. Errors answer JSON ``{"error": "..."}`` with 400 (unparseable
body), 401 (token), 404 (unknown model), 413 (too large) or 422 (invalid events); 503 with
``Retry-After`` when the service cannot make a batch durable now (the store writer's backlog is full
or the journal cannot write) -- nothing of that batch was accepted, so sending it again is safe.

Nothing here blocks the event loop: ingest waits for its batch's journal write as an awaited
future, checking large batches in a worker thread; store reads, first recomputes and the
Prometheus exposition run in worker threads, so a locked or slow store delays only the requests
that read it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from importlib import resources
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from modelmon.errors import InputError, StoreError
from modelmon.render.json import to_jsonable
from modelmon.service.collector import MonitorCollector
from modelmon.service.events import records_to_events
from modelmon.service.runtime import MonitoringService, ServiceBusy

__all__ = ["create_app"]

try:
    import orjson

    def _loads(body: bytes) -> Any:
        return orjson.loads(body)

except ImportError:  # pragma: no cover - orjson is optional

    def _loads(body: bytes) -> Any:
        return json.loads(body)


def _json(data: Any, status: int = 200) -> JSONResponse:
    # the report JSON's rules: NaN and infinities become null, numpy values plain ones
    return JSONResponse(to_jsonable(data), status_code=status)


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _busy(exc: ServiceBusy) -> JSONResponse:
    return JSONResponse(
        {"error": str(exc), "reason": exc.reason},
        status_code=503,
        headers={"Retry-After": str(exc.retry_after)},
    )


#: batches up to this many events are checked on the event loop; larger ones in a worker thread
_INLINE_EVENTS = 64


class _Api:
    def __init__(self, service: MonitoringService, registry: CollectorRegistry) -> None:
        self.service = service
        self.registry = registry
        self.token = service.config.auth_token
        self.max_body = service.config.max_body_bytes

    def _model(self, request: Request) -> str | JSONResponse:
        model = request.path_params["model"]
        if model not in self.service.monitors:
            known = ", ".join(sorted(self.service.monitors)) or "none"
            return _error(f"unknown model {model!r} (known models: {known})", 404)
        return str(model)

    async def _body(self, request: Request) -> Any:
        if self.token is not None:
            header = request.headers.get("authorization", "")
            if header != f"Bearer {self.token}":
                reason = "missing" if not header else "invalid"
                return _error(f"{reason} token: send 'Authorization: Bearer <token>'", 401)
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return _error(f"body of {length} bytes is larger than the limit of {self.max_body} bytes", 413)
        body = await request.body()
        if len(body) > self.max_body:
            return _error(f"body of {len(body)} bytes is larger than the limit of {self.max_body} bytes", 413)
        try:
            return _loads(body)
        except (ValueError, RecursionError) as exc:
            return _error(f"body is not valid JSON: {exc}", 400)

    def ingest(
        self, handler: Callable[[str, Any], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """An endpoint that checks the model, the token, the size and the JSON before ``handler``."""

        async def endpoint(request: Request) -> Response:
            model = self._model(request)
            if isinstance(model, Response):
                return model
            data = await self._body(request)
            if isinstance(data, Response):
                return data
            try:
                return await handler(model, data)
            except ServiceBusy as exc:
                return _busy(exc)

        return endpoint

    async def _durable(self, future: Future[int]) -> None:
        """Wait for a batch's journal write; withdraw it (503) if that takes over the ack timeout."""
        wrapped = asyncio.wrap_future(future)
        done, _ = await asyncio.wait({wrapped}, timeout=self.service.ack_timeout)
        if not done and future.cancel():
            raise ServiceBusy("the journal is slow to write: send again later", "journal_slow")
        try:
            await wrapped
        except Exception as exc:  # the journal's error: nothing of the batch was accepted
            raise ServiceBusy(f"the batch could not be journaled: {exc}", "journal_failing") from exc

    async def _ingest(self, model: str, events: list[Any]) -> Response:
        if len(events) > _INLINE_EVENTS:
            batch, future = await run_in_threadpool(self.service.ingest_future, model, events)
        else:
            batch, future = self.service.ingest_future(model, events)
        await self._durable(future)
        status = 422 if events and not batch.rows else 200
        return _json({"accepted": len(batch.rows), "rejected": batch.rejected}, status)

    async def events(self, model: str, data: Any) -> Response:
        if isinstance(data, dict) and "events" in data:
            events = data["events"]
            if not isinstance(events, list):
                return _error("events: expected a list of event objects", 422)
        elif isinstance(data, dict):
            events = [data]
        else:
            return _error('expected one event object or {"events": [...]}', 422)
        return await self._ingest(model, events)

    async def targets(self, model: str, data: Any) -> Response:
        items = data.get("targets") if isinstance(data, dict) else None
        if not isinstance(items, list):
            return _error('expected {"targets": [{"id": ..., "target": ...}]}', 422)
        pairs, rejected, future = self.service.targets_future(model, items)
        await self._durable(future)
        accepted = len(pairs)
        return _json({"accepted": accepted, "rejected": rejected}, 422 if items and not accepted else 200)

    async def iterate(self, model: str, data: Any) -> Response:
        if not isinstance(data, list):
            return _error("expected a JSON list of flat records", 422)
        events = records_to_events(data, self.service.monitors[model].schema)
        return await self._ingest(model, events)

    async def _read_store(self, work: Callable[[], Any]) -> Any:
        """A store read in a worker thread; a failing store answers 503 instead of an error page."""
        try:
            return await run_in_threadpool(work)
        except StoreError as exc:
            raise ServiceBusy(f"the store cannot be read now: {exc}", "store_unavailable", 5) from exc

    async def models(self, request: Request) -> Response:
        items = []
        for name, monitor in self.service.monitors.items():
            latest = monitor.latest or {}
            items.append(
                {
                    "name": name,
                    "task": monitor.schema.task,
                    "events": monitor.counters.events,
                    "window_rows": latest.get("current_rows", 0),
                    "dataset_drift": (latest.get("drift") or {}).get("dataset_drift"),
                    "computed_at": latest.get("computed_at"),
                }
            )
        return _json({"models": items})

    async def summary(self, request: Request) -> Response:
        model = self._model(request)
        if isinstance(model, Response):
            return model
        monitor = self.service.monitors[model]
        monitor_result = monitor.latest
        if monitor_result is None:
            monitor_result = await run_in_threadpool(self.service.recompute, model)
        counters = monitor.counters
        service = {
            "events_total": counters.events,
            "rejected_total": sum(counters.rejected.values()),
            "targets_total": counters.targets,
            "targets_joined": counters.targets_joined,
            "targets_unmatched": counters.targets_unmatched,
            "latency_mean_ms": 1000 * counters.latency_sum / counters.latency_count
            if counters.latency_count
            else None,
            "health": {
                name: {"up": up, "seconds": seconds}
                for name, (up, seconds, _) in self.service.prober.results().items()
            },
        }
        return _json({**monitor_result, "service": service})

    async def history(self, request: Request) -> Response:
        model = self._model(request)
        if isinstance(model, Response):
            return model
        names = request.query_params.get("names")
        limit = request.query_params.get("limit", "500")
        if not limit.isdigit():
            return _error(f"limit: expected a positive integer, got {limit!r}", 400)
        try:
            history = await self._read_store(
                lambda: self.service.store.metrics.history(
                    model, names.split(",") if names else None, limit=int(limit)
                )
            )
        except ServiceBusy as exc:
            return _busy(exc)
        return _json(
            {
                "model": model,
                "history": {name: [[ts, value] for ts, value in points] for name, points in history.items()},
            }
        )

    async def reports(self, request: Request) -> Response:
        model = request.query_params.get("model")
        try:
            found = await self._read_store(lambda: self.service.store.reports.list_reports(model, limit=100))
        except ServiceBusy as exc:
            return _busy(exc)
        return _json({"reports": found})

    async def report(self, request: Request) -> Response:
        report_id = request.path_params["report_id"]
        try:
            entry = await self._read_store(lambda: self.service.store.reports.get_report(report_id))
        except InputError as exc:
            return _error(str(exc), 404)
        except ServiceBusy as exc:
            return _busy(exc)
        if request.url.path.endswith("/html"):
            html_path = entry.get("html_path")
            if not html_path or not Path(html_path).is_file():
                return _error(f"report {report_id} has no HTML file on this machine", 404)
            return FileResponse(html_path, media_type="text/html")
        return _json(entry)

    async def health(self, request: Request) -> Response:
        return _json(self.service.health())

    async def metrics(self, request: Request) -> Response:
        body = await run_in_threadpool(generate_latest, self.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def dashboard(self, request: Request) -> Response:
        page = resources.files("modelmon.service").joinpath("static/dashboard.html").read_text()
        return HTMLResponse(page)


def create_app(service: MonitoringService, registry: CollectorRegistry | None = None) -> Starlette:
    """The Starlette app serving ``service``; the collector is registered in ``registry``."""
    registry = registry if registry is not None else CollectorRegistry()
    registry.register(
        MonitorCollector(lambda: service.monitors.values(), service.prober.results, service.health)
    )
    api = _Api(service, registry)
    routes = [
        Route("/v1/models/{model}/events", api.ingest(api.events), methods=["POST"]),
        Route("/v1/models/{model}/targets", api.ingest(api.targets), methods=["POST"]),
        Route("/iterate/{model}", api.ingest(api.iterate), methods=["POST"]),
        Route("/v1/models", api.models, methods=["GET"]),
        Route("/v1/models/{model}/summary", api.summary, methods=["GET"]),
        Route("/v1/models/{model}/history", api.history, methods=["GET"]),
        Route("/v1/reports", api.reports, methods=["GET"]),
        Route("/v1/reports/{report_id}", api.report, methods=["GET"]),
        Route("/v1/reports/{report_id}/html", api.report, methods=["GET"]),
        Route("/health", api.health, methods=["GET"]),
        Route("/metrics", api.metrics, methods=["GET"]),
        Route("/", api.dashboard, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.service = service
    return app
