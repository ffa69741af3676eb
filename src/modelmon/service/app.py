"""The monitoring service's HTTP API (Starlette).

Routes come from the operations table of :mod:`modelmon.service.openapi` (ingest of events and
late targets, the old ``/iterate`` call, model list and summaries, metric history, stored
reports, ``/health``, ``/metrics``, the built-in dashboard at ``/``, ``/openapi.json`` and
``/docs``). With a token configured, :class:`~modelmon.service.auth.TokenAuth` checks it before
any route runs. Errors answer JSON ``{"error": "..."}`` with 400 (unparseable body or query),
401 (token), 403 (read-only token), 404 (unknown model), 413 (too large) or 422 (invalid events);
503 with ``Retry-After`` when the service cannot make a batch durable now (the store writer's
backlog is full or the journal cannot write) -- nothing of that batch was accepted, so sending it
again is safe.

Nothing here blocks the event loop: ingest waits for its batch's journal write as an awaited
future, parsing bodies over 64 KiB and checking batches of over 64 items in the service's two
check threads, within a budget of body bytes (:mod:`modelmon.service.body_budget`); first
recomputes and the Prometheus exposition run in worker threads, and store reads in threads of
their own, bounded in number and time (:mod:`modelmon.service.store_reads`), so a locked, slow or
stopped store delays only the requests that read it, and those by at most a few seconds before a
503.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from modelmon.errors import BodyError, ServiceBusy
from modelmon.render.json import to_jsonable
from modelmon.service import api_schema
from modelmon.service.alerts.metrics import AlertCollector
from modelmon.service.alerts.payload import parse_alerts
from modelmon.service.auth import TokenAuth
from modelmon.service.body import parse_json, read_body
from modelmon.service.body_budget import Claim, items_limit
from modelmon.service.collector import MonitorCollector
from modelmon.service.events import records_to_events
from modelmon.service.evidently_collector import EvidentlyCollector
from modelmon.service.openapi import OPERATIONS, open_paths, openapi_document
from modelmon.service.runtime import MonitoringService
from modelmon.service.validation import SchemaCheck, check_items, parse_query, shallow

__all__ = ["create_app"]

T = TypeVar("T")

_ENVELOPES = {
    "events": SchemaCheck(shallow(api_schema.EVENTS_BATCH)),
    "targets": SchemaCheck(shallow(api_schema.TARGETS_BODY)),
    "iterate": SchemaCheck(shallow(api_schema.ITERATE_BODY)),
}
_TARGET = SchemaCheck(api_schema.TARGET, root="target")
_ALERTS = SchemaCheck(api_schema.ALERTS_BODY)
#: batches up to this many events are checked on the event loop; larger ones in a worker thread
_INLINE_EVENTS = 64
#: bodies up to this many bytes are parsed on the event loop (well under a millisecond); larger
#: ones in a worker thread
_INLINE_BYTES = 64 * 1024


def _json(data: Any, status: int = 200) -> JSONResponse:
    # the report JSON's rules: NaN and infinities become null, numpy values plain ones
    return JSONResponse(to_jsonable(data), status_code=status)


def _error(message: str, status: int) -> JSONResponse:
    # after a 408 the rest of the body may still be on its way: the connection is not reused
    headers = {"Connection": "close"} if status == 408 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _busy(exc: ServiceBusy) -> JSONResponse:
    return JSONResponse(
        {"error": str(exc), "reason": exc.reason},
        status_code=503,
        headers={"Retry-After": str(exc.retry_after)},
    )


async def _server_error(request: Request, exc: Exception) -> Response:
    # a bug, never the client's input: the log has the traceback, the client a JSON line without paths
    return _error("internal error of the monitoring service (its log has the details)", 500)


def _static(name: str) -> str:
    return resources.files("modelmon.service").joinpath(f"static/{name}").read_text()


def _unknown_report(report_id: str) -> JSONResponse:
    # the store's message names its file; the client only needs to know the id is unknown
    return _error(f"no stored report with id {report_id[:100]!r} (GET /v1/reports lists them)", 404)


class _Api:
    def __init__(self, service: MonitoringService, registry: CollectorRegistry) -> None:
        self.service = service
        self.registry = registry
        self.max_body = service.config.max_body_bytes

    async def _off_loop(self, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)`` in one of the service's few check threads: more threads would take the
        interpreter from the event loop, and ``/health`` with it."""
        return await asyncio.get_running_loop().run_in_executor(self.service.checks, partial(work, *args))

    def _model(self, request: Request) -> str | JSONResponse:
        model = request.path_params["model"]
        if model not in self.service.monitors:
            known = ", ".join(sorted(self.service.monitors)) or "none"
            return _error(f"unknown model {model[:100]!r} (known models: {known})", 404)
        return str(model)

    async def _body(self, request: Request, claim: Claim) -> bytes | Response:
        """The body, read no further than the size limit and within its deadline, or the error answer."""
        try:
            return await read_body(
                request.stream(),
                self.max_body,
                request.headers.get("content-length"),
                self.service.config.limits.body_seconds,
                claim,
            )
        except BodyError as exc:
            return _error(str(exc), exc.status)
        except ClientDisconnect:
            return _error("the client went away before the body was complete", 400)

    def ingest(
        self, handler: Callable[[str, Any], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """An endpoint that checks the model, the size, the JSON and its envelope before ``handler``.

        The body's bytes are held from the service's budget of bodies until the answer; a large
        body is parsed and checked in a worker thread.
        """
        envelope = _ENVELOPES[handler.__name__]
        one_event = handler.__name__ == "events"

        max_items = items_limit(self.max_body)
        batch_of = handler.__name__  # where a body's items are: "events", "targets", or the body (iterate)

        def parse(body: bytes) -> Any:
            try:
                data = parse_json(body, max_items=max_items)
            except BodyError as exc:
                return _error(str(exc), exc.status)
            if one_event and isinstance(data, dict) and "events" not in data:
                data = {"events": [data]}  # one event: checked as a batch of one
            problem = envelope.first_error(data)
            if problem is not None:
                return _error(problem, 422)
            items = len(data if batch_of == "iterate" else data[batch_of])
            if items > max_items:
                return _error(
                    f"body: its batch holds {items} items, more than the {max_items} one body may hold: "
                    "send it in smaller batches",
                    413,
                )
            return data

        async def endpoint(request: Request) -> Response:
            model = self._model(request)
            if isinstance(model, Response):
                return model
            try:
                with self.service.bodies.claim() as claim:
                    body = await self._body(request, claim)
                    if isinstance(body, Response):
                        return body
                    data = await self._off_loop(parse, body) if len(body) > _INLINE_BYTES else parse(body)
                    del body  # parsed: its bytes need not wait for the answer
                    if isinstance(data, Response):
                        return data
                    claim.hold_items(len(data if batch_of == "iterate" else data[batch_of]))
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

    async def _ingest(self, model: str, events: list[Any], old_answer: bool = False) -> Response:
        if len(events) > _INLINE_EVENTS:
            batch, future = await self._off_loop(self.service.ingest_future, model, events)
        else:
            batch, future = self.service.ingest_future(model, events)
        await self._durable(future)
        if old_answer and not batch.rejected:  # Evidently's service answered these words, and only them
            return Response("ok", media_type="text/plain")
        status = 422 if events and not batch.rows else 200
        return _json({"accepted": len(batch.rows), "rejected": batch.rejected}, status)

    async def events(self, model: str, data: Any) -> Response:
        return await self._ingest(model, data["events"])

    async def targets(self, model: str, data: Any) -> Response:
        items = data["targets"]

        def check() -> tuple[list[int], list[dict[str, Any]], list[Any], list[dict[str, Any]], Future[int]]:
            valid, rejected = check_items(items, _TARGET)
            pairs, refused, future = self.service.targets_future(model, [items[i] for i in valid])
            return valid, rejected, pairs, refused, future

        checked = await self._off_loop(check) if len(items) > _INLINE_EVENTS else check()
        valid, rejected, pairs, refused, future = checked
        await self._durable(future)
        rejected += [{**item, "index": valid[item["index"]]} for item in refused]
        rejected.sort(key=lambda item: item["index"])
        accepted = len(pairs)
        return _json({"accepted": accepted, "rejected": rejected}, 422 if items and not accepted else 200)

    async def iterate(self, model: str, data: Any) -> Response:
        monitor = self.service.monitors[model]
        if len(data) > _INLINE_EVENTS:
            events = await self._off_loop(records_to_events, data, monitor.schema)
        else:
            events = records_to_events(data, monitor.schema)
        # any compat config answers as the old service did, even one of no monitors (`monitors: []`)
        return await self._ingest(model, events, old_answer=monitor.config.compat is not None)

    async def _read_store(self, work: Callable[[], Any]) -> Any:
        """A store read in a read thread, answered within its deadline (see :mod:`.store_reads`)."""
        return await self.service.reads.run(work)

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
        try:
            query = parse_query(api_schema.HISTORY_QUERY, request.query_params)
        except BodyError as exc:
            return _error(str(exc), exc.status)
        names, limit = query["names"], query["limit"]
        try:
            history = await self._read_store(
                lambda: self.service.store.metrics.history(
                    model, names.split(",") if names else None, limit=limit
                )
            )
        except ServiceBusy as exc:
            return _busy(exc)
        except BodyError as exc:
            return _error(str(exc), exc.status)
        return _json(
            {
                "model": model,
                "history": {name: [[ts, value] for ts, value in points] for name, points in history.items()},
            }
        )

    async def reports(self, request: Request) -> Response:
        try:
            model = parse_query(api_schema.REPORTS_QUERY, request.query_params)["model"]
        except BodyError as exc:
            return _error(str(exc), exc.status)
        try:
            found = await self._read_store(lambda: self.service.store.reports.list_reports(model, limit=100))
        except ServiceBusy as exc:
            return _busy(exc)
        except BodyError as exc:
            return _error(str(exc), exc.status)
        return _json({"reports": found})

    async def _report_entry(self, report_id: str) -> dict[str, Any] | Response:
        try:
            entry: dict[str, Any] = await self._read_store(
                lambda: self.service.store.reports.get_report(report_id)
            )
        except BodyError:  # the store refused the id: no report has it
            return _unknown_report(report_id)
        except ServiceBusy as exc:
            return _busy(exc)
        return entry

    async def report(self, request: Request) -> Response:
        entry = await self._report_entry(request.path_params["report_id"])
        return entry if isinstance(entry, Response) else _json(entry)

    async def report_html(self, request: Request) -> Response:
        report_id = request.path_params["report_id"]
        entry = await self._report_entry(report_id)
        if isinstance(entry, Response):
            return entry
        html_path = entry.get("html_path")
        if not html_path or not Path(html_path).is_file():
            return _error(f"report {report_id[:100]!r} has no HTML file on this machine", 404)
        return FileResponse(html_path, media_type="text/html")

    async def alerts(self, request: Request) -> Response:
        """Alertmanager's webhook: record each alert and queue its diagnostic report (answered at once)."""
        try:
            with self.service.bodies.claim() as claim:
                body = await self._body(request, claim)
                if isinstance(body, Response):
                    return body
                big = len(body) > _INLINE_BYTES
                data = await self._off_loop(parse_json, body) if big else parse_json(body)
                problem = _ALERTS.first_error(data)
                if problem is not None:
                    return _error(problem, 422)
                try:
                    alerts = parse_alerts(data)
                except ValueError as exc:
                    return _error(str(exc), 422)
                answer = await run_in_threadpool(self.service.alerts.receive, alerts, str(request.base_url))
        except BodyError as exc:
            return _error(str(exc), exc.status)
        except ServiceBusy as exc:
            return _busy(exc)
        return _json(answer)

    async def alert_list(self, request: Request) -> Response:
        try:
            query = parse_query(api_schema.ALERTS_QUERY, request.query_params)
        except BodyError as exc:
            return _error(str(exc), exc.status)
        return _json({"alerts": self.service.alerts.recent(query["model"], query["limit"])})

    async def health(self, request: Request) -> Response:
        return _json(self.service.health())

    async def metrics(self, request: Request) -> Response:
        return Response(await run_in_threadpool(self._exposition), media_type=CONTENT_TYPE_LATEST)

    def _exposition(self) -> bytes:
        """The registry's series, then every model's section series as rendered at its recompute."""
        monitors = self.service.monitors
        for name, monitor in monitors.items():
            self.service.series.update(name, monitor.latest)  # a result not rendered yet
        return generate_latest(self.registry) + self.service.series.text(monitors)

    async def dashboard(self, request: Request) -> Response:
        return HTMLResponse(_static("dashboard.html"))

    async def openapi(self, request: Request) -> Response:
        config = self.service.config
        document = openapi_document(
            sorted(self.service.monitors), config.max_body_bytes, secured=config.auth_token is not None
        )
        return JSONResponse(document)

    async def docs(self, request: Request) -> Response:
        return HTMLResponse(_static("docs.html"))


def create_app(service: MonitoringService, registry: CollectorRegistry | None = None) -> Starlette:
    """The Starlette app serving ``service``; the collector is registered in ``registry``.

    Without a ``registry`` the app makes its own, with the process, platform and garbage-collector
    collectors that prometheus_client's default registry has (``process_*``, ``python_info``,
    ``python_gc_*``), as users of prometheus_client expect of a Python service.
    """
    if registry is None:
        registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
    registry.register(
        MonitorCollector(
            lambda: service.monitors.values(), service.prober.results, service.health, sections=False
        )
    )
    registry.register(EvidentlyCollector(lambda: service.monitors.values()))
    registry.register(AlertCollector(service.alerts))
    api = _Api(service, registry)
    ingest = {"events": api.events, "targets": api.targets, "iterate": api.iterate}
    routes = [
        Route(
            op.path,
            api.ingest(ingest[op.name]) if op.name in ingest else getattr(api, op.name),
            methods=[op.method],
        )
        for op in OPERATIONS
    ]
    config = service.config
    middleware = []
    if config.auth_token is not None:
        middleware.append(
            Middleware(
                TokenAuth,
                token=config.auth_token,
                read_token=config.read_token,
                open_paths=open_paths(),
                body_seconds=config.limits.body_seconds,
            )
        )
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={500: _server_error})
    app.state.service = service
    return app
