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


_INGEST_ERRORS = (400, 403, 404, 413, 422, 503)
OPERATIONS: tuple[Operation, ...] = (
    Operation("events", "POST", "/v1/models/{model}/events", "Ingest one event or a batch",
              body=s.EVENTS_BODY, errors=_INGEST_ERRORS),
    Operation("targets", "POST", "/v1/models/{model}/targets", "Ground truth that arrives later",
              body=s.TARGETS_BODY, errors=_INGEST_ERRORS),
    Operation("iterate", "POST", "/iterate/{model}", "The old Evidently-service call",
              body=s.ITERATE_BODY, errors=_INGEST_ERRORS),
    Operation("models", "GET", "/v1/models", "The monitored models"),
    Operation("summary", "GET", "/v1/models/{model}/summary", "A model's latest window results",
              errors=(404,)),
    Operation("history", "GET", "/v1/models/{model}/history", "A model's metric history",
              query=s.HISTORY_QUERY, errors=(400, 404)),
    Operation("reports", "GET", "/v1/reports", "Stored batch reports", query=s.REPORTS_QUERY, errors=(400,)),
    Operation("report", "GET", "/v1/reports/{report_id}", "One stored batch report", errors=(404,)),
    Operation("report_html", "GET", "/v1/reports/{report_id}/html", "A stored report's HTML file",
              answer="text/html", errors=(404,)),
    Operation("health", "GET", "/health", "Health of the service (no token needed)", public=True),
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
    413: "Body larger than the limit",
    422: "Invalid events, targets or records (none accepted)",
    503: "Too busy: retry after the Retry-After seconds",
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
        answer: s.Schema = s.INGEST_ANSWER if op.body is not None else s.ANSWERS[op.name]
        ok: dict[str, Any] = {
            "description": "OK",
            "content": {op.answer: {"schema": _refs(answer, top=False)}},
        }
    else:
        ok = {"description": "OK", "content": {op.answer: {"schema": {"type": "string"}}}}
    answers = {"200": ok}
    error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for status in sorted({*op.errors, *(() if op.public else (401,))}):
        answers[str(status)] = {"description": _ERROR_TEXT[status], "content": error_content}
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
        "paths": paths,
        "components": {
            "schemas": {name: _refs(schema) for name, schema in _COMPONENTS.items()},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}] if secured else [],
    }


def _version() -> str:
    from modelmon import __version__

    return str(__version__)
