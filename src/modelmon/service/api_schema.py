"""The JSON Schema of every request body, query parameter and answer of the HTTP API.

These definitions are the single source: the handlers validate requests with them
(:mod:`modelmon.service.validation`) and ``/openapi.json`` is generated from them
(:mod:`modelmon.service.openapi`), so the document cannot drift from what is checked.

>>> sorted(EVENT["properties"]) == sorted(EVENT_KEYS)
True
>>> EVENT["required"]
['features', 'prediction']
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from modelmon.service.alerts.payload import ALERTS_ANSWER, ALERTS_BODY
from modelmon.store.documents import RESERVED_COLUMNS

__all__ = [
    "ALERTS_BODY",
    "ALERTS_QUERY",
    "ANSWERS",
    "EARLIEST",
    "ERROR",
    "EVENT",
    "EVENTS_BATCH",
    "EVENT_KEYS",
    "HISTORY_QUERY",
    "INGEST_ANSWER",
    "ITERATE_BODY",
    "LATEST",
    "NO_NUL",
    "PATTERN_PROBLEMS",
    "REPORTS_QUERY",
    "TARGET",
    "TARGETS_BODY",
    "Schema",
]

Schema = dict[str, Any]

#: the accepted range of event timestamps (the engine's time axis covers it with room to spare)
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)

_SCALAR: Schema = {"type": ["number", "string", "boolean", "null"]}
_NUMBER_MAP: Schema = {"type": "object", "additionalProperties": {"type": "number"}}
#: text without the NUL character, which PostgreSQL's text cannot hold: refused at ingest, never stored
NO_NUL = "^[^\\u0000]*$"
#: what a failed ``pattern`` means, in the words of an error answer
PATTERN_PROBLEMS = {NO_NUL: "holds a NUL character (\\u0000), which a store cannot keep in an id: remove it"}
_ID: Schema = {
    "type": ["string", "integer"],
    "maxLength": 512,
    "pattern": NO_NUL,
    "description": "Event id (text or integer, without NUL characters).",
}

TIMESTAMP: Schema = {
    "description": (
        "ISO 8601 text (UTC unless it says otherwise) or epoch seconds, from "
        f"{EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}; receive time when absent."
    ),
    "anyOf": [
        {"type": "string", "format": "date-time"},
        {"type": "number", "minimum": EARLIEST.timestamp(), "maximum": LATEST.timestamp()},
        {"type": "null"},
    ],
}

EVENT: Schema = {
    "type": "object",
    "description": "One prediction: what the model saw and what it answered.",
    "additionalProperties": False,
    "required": ["features", "prediction"],
    "properties": {
        "id": _ID,
        "timestamp": TIMESTAMP,
        "features": {
            "type": "object",
            "description": "Feature name -> value (number, text, boolean or null).",
            "additionalProperties": _SCALAR,
            # the store's own columns of an event
            "propertyNames": {"not": {"enum": sorted(RESERVED_COLUMNS)}},
        },
        "prediction": {**_SCALAR, "description": "The model's answer: a number or a label."},
        "probabilities": {
            "description": "Score of the positive class, or class -> probability.",
            "anyOf": [{"type": "number"}, _NUMBER_MAP, {"type": "null"}],
        },
        "target": {**_SCALAR, "description": "Ground truth, when known at prediction time."},
        "latency_ms": {"type": ["number", "null"], "minimum": 0, "description": "Prediction latency."},
        "attributions": {
            "description": "Feature -> attribution of this prediction.",
            "anyOf": [_NUMBER_MAP, {"type": "null"}],
        },
        "metadata": {"type": ["object", "null"], "description": "Anything else, stored with the event."},
    },
}
EVENT_KEYS = frozenset(EVENT["properties"])

EVENTS_BATCH: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["events"],
    "properties": {"events": {"type": "array", "items": EVENT}},
}
#: ``POST /v1/models/{model}/events``: one event or a batch
EVENTS_BODY: Schema = {"anyOf": [EVENTS_BATCH, EVENT]}

TARGET: Schema = {
    "type": "object",
    "description": "Ground truth that arrives after the prediction, joined to its event by id.",
    "additionalProperties": False,
    "required": ["id", "target"],
    "properties": {"id": _ID, "target": {**_SCALAR, "description": "The true value or label."}},
}
TARGETS_BODY: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["targets"],
    "properties": {"targets": {"type": "array", "items": TARGET}},
}
ITERATE_BODY: Schema = {
    "type": "array",
    "description": "The old Evidently-service call: flat records mapped onto events by the model's schema.",
    # columns the model's schema does not name are ignored, whatever their values; the named ones are
    # checked as the fields of an event
    "items": {"type": "object", "description": "A flat record: column name -> value."},
}

ERROR: Schema = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "description": "What is wrong and what to do."},
        "reason": {
            "type": "string",
            "description": "With 503: why, as a fixed code (backlog_full, ...).",
        },
    },
}
INGEST_ANSWER: Schema = {
    "type": "object",
    "required": ["accepted", "rejected"],
    "properties": {
        "accepted": {"type": "integer", "minimum": 0},
        "rejected": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["index", "error"],
                "properties": {"index": {"type": "integer", "minimum": 0}, "error": {"type": "string"}},
            },
        },
    },
}

HISTORY_QUERY: dict[str, Schema] = {
    "names": {
        "type": "string",
        "maxLength": 4096,
        "description": "Comma-separated metric names (all if absent).",
    },
    "limit": {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 500},
}
ALERTS_QUERY: dict[str, Schema] = {
    "model": {"type": "string", "maxLength": 512, "description": "Only the alerts of this model."},
    "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
}

REPORTS_QUERY: dict[str, Schema] = {
    "model": {"type": "string", "maxLength": 512, "description": "Only the reports of this model."},
}

_RESULT: Schema = {"type": "object", "description": "Same shape as the report JSON."}
#: schemas of the 200 answers, by operation name
ANSWERS: dict[str, Schema] = {
    "models": {
        "type": "object",
        "required": ["models"],
        "properties": {
            "models": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "task", "events"],
                    "properties": {
                        "name": {"type": "string"},
                        "task": {"type": "string"},
                        "events": {"type": "integer"},
                        "window_rows": {"type": "integer"},
                        "dataset_drift": {"type": ["boolean", "null"]},
                        "computed_at": {"type": ["string", "number", "null"]},
                    },
                },
            }
        },
    },
    "summary": {**_RESULT, "required": ["service"]},
    "history": {
        "type": "object",
        "required": ["model", "history"],
        "properties": {
            "model": {"type": "string"},
            "history": {
                "type": "object",
                "additionalProperties": {
                    "type": "array",
                    "items": {"type": "array", "minItems": 2, "maxItems": 2},
                },
            },
        },
    },
    "reports": {
        "type": "object",
        "required": ["reports"],
        "properties": {"reports": {"type": "array", "items": {"type": "object"}}},
    },
    "report": {"type": "object", "description": "A stored batch report and its headline numbers."},
    "health": {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "warming", "degraded"]},
            "shard": {
                "type": ["string", "null"],
                "description": "The config's shard this process serves (modelmon serve --shard), else null.",
            },
        },
    },
    "openapi": {"type": "object", "required": ["openapi", "paths"]},
    "alerts": ALERTS_ANSWER,
    "alert_list": {
        "type": "object",
        "required": ["alerts"],
        "properties": {
            "alerts": {
                "type": "array",
                "description": "Newest first: each alert with its report, deliveries and action.",
                "items": {"type": "object", "required": ["key", "model", "status"]},
            }
        },
    },
}
