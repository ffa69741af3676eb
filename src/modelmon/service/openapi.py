"""The API's operations in one table, and the OpenAPI 3.1 document generated from it.

:data:`OPERATIONS` lists every route: the app builds its routes from it, the auth middleware
takes its open paths from it, and :func:`openapi_document` describes it with the schemas of
:mod:`modelmon.service.api_schema` that the handlers validate with.

>>> document = openapi_document(["taxi"], max_body_bytes=1024)
>>> sorted(document["paths"]["/v1/models/{model}/events"])
['post']
>>> document["paths"]["/v1/models/{model}/events"]["post"]["parameters"][0]["schema"]["enum"]
['taxi']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelmon.service import api_schema as s

__all__ = ["OPERATIONS", "Operation", "open_paths", "openapi_document"]


@dataclass(frozen=True)
class Operation:
    """One route: its handler's name on the app's API object, and what it takes and answers."""

    name: str
    method: str
    path: str
    summary: str
    body: s.Schema | None = None
    query: Mapping[str, s.Schema] = field(default_factory=dict)
    answer: str = "application/json"
    errors: tuple[int, ...] = ()
    public: bool = False
    #: also answers a plain-text ``ok`` (the old Evidently-service answer, for models with ``compat``)
    plain_ok: bool = False


_INGEST_ERRORS = (400, 403, 404, 413, 422, 503)
OPERATIONS: tuple[Operation, ...] = (
    Operation("events", "POST", "/v1/models/{model}/events", "Ingest one event or a batch",
              body=s.EVENTS_BODY, errors=_INGEST_ERRORS),
    Operation("targets", "POST", "/v1/models/{model}/targets", "Ground truth that arrives later",
              body=s.TARGETS_BODY, errors=_INGEST_ERRORS),
    Operation("iterate", "POST", "/iterate/{model}", "The old Evidently-service call (text ok with compat)",
              body=s.ITERATE_BODY, errors=_INGEST_ERRORS, plain_ok=True),
    Operation("models", "GET", "/v1/models", "The monitored models"),
    Operation("summary", "GET", "/v1/models/{model}/summary", "A model's latest window results",
              errors=(404,)),
    Operation("history", "GET", "/v1/models/{model}/history", "A model's metric history",
              query=s.HISTORY_QUERY, errors=(400, 404, 503)),
    Operation("reports", "GET", "/v1/reports", "Stored batch reports", query=s.REPORTS_QUERY,
              errors=(400, 503)),
    Operation("report", "GET", "/v1/reports/{report_id}", "One stored batch report", errors=(404, 503)),
    Operation("report_html", "GET", "/v1/reports/{report_id}/html", "A stored report's HTML file",
              answer="text/html", errors=(404, 503)),
    Operation("alerts", "POST", "/v1/alerts", "Alertmanager's webhook (v4): a diagnostic report per alert",
              body=s.ALERTS_BODY, errors=(400, 403, 413, 422)),
    Operation("alert_list", "GET", "/v1/alerts", "Recent alerts with their reports and actions",
              query=s.ALERTS_QUERY, errors=(400,)),
    Operation("health", "GET", "/health", "Health of the service", public=True),  # /docs says it is open
    Operation("metrics", "GET", "/metrics", "Prometheus exposition", answer="text/plain"),
    Operation("dashboard", "GET", "/", "The built-in dashboard", answer="text/html"),
    Operation("openapi", "GET", "/openapi.json", "This document"),
    Operation("docs", "GET", "/docs", "This document, rendered (works offline)", answer="text/html"),
)  # fmt: skip

_ERROR_TEXT = {
    400: "Unparseable body or query parameter",
    401: "Missing or wrong token",
    403: "The token may only read",
    404: "Unknown model or report",
    413: "Body larger than the limit, or a batch of more items than a body may hold",
    422: "Invalid events, targets or records (none accepted)",
    503: "Cannot make the batch durable or read the store now: retry after Retry-After seconds",
}
_COMPONENTS = {"Event": s.EVENT, "Target": s.TARGET, "Error": s.ERROR, "IngestAnswer": s.INGEST_ANSWER}


def open_paths() -> frozenset[str]:
    """Paths that answer without a token."""
    return frozenset(op.path for op in OPERATIONS if op.public)


def _refs(schema: Any, top: bool = True) -> Any:
    """``schema`` with the named components replaced by references to them."""
    if not top:
        for name, component in _COMPONENTS.items():
            if schema is component:
                return {"$ref": f"#/components/schemas/{name}"}
    if isinstance(schema, dict):
        return {key: _refs(value, top=False) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_refs(value, top=False) for value in schema]
    return schema


def _parameters(op: Operation, models: Sequence[str]) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = []
    if "{model}" in op.path:
        model = {"type": "string", "enum": list(models)} if models else {"type": "string"}
        parameters.append({"name": "model", "in": "path", "required": True, "schema": model})
    if "{report_id}" in op.path:
        parameters.append({"name": "report_id", "in": "path", "required": True, "schema": {"type": "string"}})
    for name, schema in op.query.items():
        parameters.append({"name": name, "in": "query", "required": False, "schema": schema})
    return parameters


def _answers(op: Operation) -> dict[str, Any]:
    if op.answer == "application/json":
        answer: s.Schema = (
            s.ANSWERS.get(op.name, s.INGEST_ANSWER) if op.body is not None else s.ANSWERS[op.name]
        )
        ok: dict[str, Any] = {
            "description": "OK",
            "content": {op.answer: {"schema": _refs(answer, top=False)}},
        }
    else:
        ok = {"description": "OK", "content": {op.answer: {"schema": {"type": "string"}}}}
    if op.plain_ok:
        ok["content"]["text/plain"] = {"schema": {"type": "string", "enum": ["ok"]}}
    answers = {"200": ok}
    error_schema = {"$ref": "#/components/schemas/Error"}
    error_content = {"application/json": {"schema": error_schema}}
    # a 422 of an ingest route is the answer with every item's reason, or an error about the whole body
    refused = {"schema": {"anyOf": [{"$ref": "#/components/schemas/IngestAnswer"}, error_schema]}}
    for status in sorted({*op.errors, *(() if op.public else (401,))}):
        content = {"application/json": refused} if status == 422 and op.body is not None else error_content
        answers[str(status)] = {"description": _ERROR_TEXT[status], "content": content}
    return answers


def openapi_document(models: Sequence[str], max_body_bytes: int, secured: bool = True) -> dict[str, Any]:
    """The OpenAPI 3.1 document of a service monitoring ``models``."""
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        operation: dict[str, Any] = {
            "operationId": op.name,
            "summary": op.summary,
            "parameters": _parameters(op, models),
            "responses": _answers(op),
        }
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "description": f"JSON, at most {max_body_bytes} bytes",
                "content": {"application/json": {"schema": _refs(op.body)}},
            }
        if op.public or not secured:
            operation["security"] = []
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "modelmon monitoring service",
            "version": _version(),
            "description": "Ingest predictions, read window results, metrics and stored reports.",
        },
        "paths": {**paths, **(_login() if secured else {})},
        "components": {
            "schemas": {name: _refs(schema) for name, schema in _COMPONENTS.items()},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}] if secured else [],
    }


def _login() -> dict[str, Any]:
    """``POST /login``, the browser's way in (answered by the auth middleware, only with a token)."""
    from modelmon.service.auth import LOGIN_BODY_LIMIT, LOGIN_PATH

    form = {
        "type": "object",
        "required": ["token"],
        "properties": {
            "token": {"type": "string", "description": "The auth_token or read_token."},
            "next": {"type": "string", "description": "Path of this service to go back to.", "default": "/"},
        },
    }
    page = {"text/html": {"schema": {"type": "string"}}}
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    operation = {
        "operationId": "login",
        "summary": "Log a browser in: a read-only session cookie (HttpOnly, SameSite=Strict)",
        "security": [],
        "requestBody": {
            "required": True,
            "description": f"An HTML form, at most {LOGIN_BODY_LIMIT} bytes",
            "content": {"application/x-www-form-urlencoded": {"schema": form}},
        },
        "responses": {
            "303": {"description": "Logged in: the cookie, and back to next"},
            "400": {"description": "Too many form fields", "content": error},
            "401": {"description": "Wrong token: the login form again", "content": page},
            "413": {"description": "Form larger than the limit", "content": error},
        },
    }
    return {LOGIN_PATH: {"post": operation}}


def _version() -> str:
    from modelmon import __version__

    return str(__version__)
