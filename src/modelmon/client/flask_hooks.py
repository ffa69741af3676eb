"""Instrument a Flask prediction service: request metrics, request latency for events, ``/metrics``.

>>> import flask
>>> from prometheus_client import CollectorRegistry
>>> app = flask.Flask("taxi")
>>> @app.post("/predict")
... def predict():
...     return {"duration": 12.5}
>>> registry = CollectorRegistry()
>>> app = instrument_flask(app, registry=registry)
>>> app.test_client().post("/predict", json={}).status_code
200
>>> registry.get_sample_value("modelmon_http_requests_total", {"endpoint": "/predict", "status": "200"})
1.0

The endpoint label is the URL rule (``/rides/<int:ride_id>``, not the path), so it stays bounded; a request
that matches no rule, or a rule outside ``endpoints`` when given, counts under ``"other"``. An exception that
escapes the view counts as status 500. Requests for ``metrics_path`` are not counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from time import perf_counter
from typing import TYPE_CHECKING, Any

from modelmon.client.metrics import endpoint_label, http_metrics, metrics_page, register_monitor
from modelmon.client.timing import request_finished, request_started
from modelmon.errors import require

if TYPE_CHECKING:
    from modelmon.client.monitor import Monitor

__all__ = ["instrument_flask"]


def instrument_flask(
    app: Any,
    monitor: Monitor | None = None,
    registry: Any = None,
    endpoints: Iterable[str] | None = None,
    metrics_path: str = "/metrics",
) -> Any:
    """Add request hooks and a ``metrics_path`` route to ``app``; return ``app``.

    ``monitor``'s counters are exported too; ``registry`` defaults to prometheus_client's global one.
    """
    flask = require("flask", "demo")
    metrics = http_metrics(registry)
    if monitor is not None:
        register_monitor(monitor, registry)
    allowed = frozenset(endpoints) if endpoints is not None else None
    g, request = flask.g, flask.request

    def record(status: int) -> None:
        if "_modelmon_start" not in g or g.get("_modelmon_recorded"):
            return
        g._modelmon_recorded = True
        rule = request.url_rule.rule if request.url_rule is not None else None
        metrics.record(endpoint_label(rule, allowed), status, perf_counter() - g._modelmon_start)

    def start_timer() -> None:
        if request.path != metrics_path:
            g._modelmon_start = perf_counter()
            g._modelmon_token = request_started(g._modelmon_start)

    def after(response: Any) -> Any:
        record(response.status_code)
        return response

    def teardown(exc: BaseException | None) -> None:
        # after_request does not run when an exception propagates (testing, PROPAGATE_EXCEPTIONS).
        if exc is not None:
            record(500)
        if "_modelmon_token" in g:
            request_finished(g._modelmon_token)

    def serve_metrics() -> Any:
        body, content_type = metrics_page(registry)
        return flask.Response(body, content_type=content_type)

    # First in line, so the time spent in the service's own before_request hooks is counted too.
    app.before_request_funcs.setdefault(None, []).insert(0, start_timer)
    app.after_request(after)
    app.teardown_request(teardown)
    app.add_url_rule(metrics_path, "modelmon_metrics", serve_metrics, methods=["GET"])
    return app
