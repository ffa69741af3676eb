"""The HTTP API page (from ``/openapi.json``) and the Prometheus page (from ``/metrics`` and the rules)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pages_service import Family

HTTP_INTRO = """# HTTP API

The monitoring service's routes, written from the OpenAPI 3.1 document it serves at
`/openapi.json` (download [this build's copy](openapi.json)); `/docs` renders the same document
offline. With a token configured every route but `/health` needs `Authorization: Bearer <token>`
(see [authentication](../how-to/authentication.md)).

Errors answer JSON `{"error": "..."}` naming the input and the problem: 400 unparseable body or
query parameter, 401 missing or wrong token, 403 a read-only token that tried to write, 404 unknown
model, 413 too large, 422 invalid events, 503 with `Retry-After` when the service cannot make a
batch durable now (nothing of it was accepted: send it again). Bodies are strict JSON (UTF-8, no
`NaN`, integers within 64 bits, at most 64 levels of nesting); timestamps are ISO 8601 or epoch
seconds from 1900 to 2200, and at most `ingest.future_tolerance_seconds` (300 by default) ahead of
the time of receipt: an event stamped further ahead is rejected with its index, a `timestamp: ...
ahead of the time of receipt` error and the reason `timestamp_ahead` (the valid events of its batch
are kept). The document is generated from the same JSON Schemas the service checks requests with,
so it cannot drift from what is accepted.
"""

PROMETHEUS_INTRO = """# Prometheus series and alert rules

The series below were read from a live monitoring service's `/metrics` when this site was built,
after it took a drifted batch of events and targets for the two demo models, so they are exactly
what a scrape returns. The series of a model are labelled `model`; those of the service itself
(health, store) are not. Label values come from the schema or fixed lists, so no input grows the
number of series. A drift score is the
test's statistic or distance; a p-value is never exported as a score or the other way round: tests
with one (KS, chi-square, Z) also export `modelmon_drift_p_value{column,method}`, and
`modelmon_drift_threshold` is then the alpha it is compared with (drift when p < alpha), else the
distance the score is compared with; the HELP text of each says so. `/metrics` also has
prometheus_client's process and Python collectors (`process_*`, `python_info`, `python_gc_*`), not
listed here. A series
appears only once it has a value: `modelmon_fairness` with a sensitive attribute,
`modelmon_service_up` with a health probe, the embedding series with an embedding set.
"""


def _schema(schema: dict[str, Any]) -> str:
    return "```json\n" + json.dumps(schema, indent=2) + "\n```\n"


def http_page(openapi: dict[str, Any]) -> str:
    """Every operation of the document: parameters, body and answers."""
    lines = [HTTP_INTRO, "| method | path | what it does |", "|---|---|---|"]
    for path, methods in openapi["paths"].items():
        for method, operation in methods.items():
            lines.append(f"| `{method.upper()}` | `{path}` | {operation.get('summary', '')} |")
    lines.append("")
    for path, methods in openapi["paths"].items():
        for method, operation in methods.items():
            lines.append(f"## `{method.upper()} {path}`\n\n{operation.get('summary', '')}.\n")
            if not operation.get("security", True):
                lines.append("No token needed.\n")
            parameters = operation.get("parameters", [])
            if parameters:
                lines += ["| parameter | in | schema |", "|---|---|---|"]
                for parameter in parameters:
                    shown = json.dumps(parameter.get("schema", {}))
                    lines.append(f"| `{parameter['name']}` | {parameter['in']} | `{shown}` |")
                lines.append("")
            body = operation.get("requestBody")
            if body:
                for media, content in body["content"].items():
                    lines.append(f"Body ({media}; {body.get('description', '')}):\n")
                    lines.append(_schema(content.get("schema", {})))
            answers = ", ".join(
                f"{status} {answer.get('description', '')}"
                for status, answer in operation["responses"].items()
            )
            lines.append(f"Answers: {answers}.\n")
    lines.append("## Schemas\n")
    for name, schema in openapi.get("components", {}).get("schemas", {}).items():
        lines.append(f"### `{name}`\n\n{_schema(schema)}")
    return "\n".join(lines)


def _series_table(found: list[Family]) -> list[str]:
    rows = ["| series | type | labels | what it is |", "|---|---|---|---|"]
    for family in found:
        labels = ", ".join(f"`{label}`" for label in family.labels)
        rows.append(f"| `{family.name}` | {family.type} | {labels} | {family.help} |")
    return rows


def _alerts(rules_dir: Path) -> list[str]:
    rows = [
        "| alert | severity | for | fires when |",
        "|---|---|---|---|",
    ]
    recording = ["| recorded series | expression |", "|---|---|"]
    for file in sorted(rules_dir.glob("*.yml")):
        for group in yaml.safe_load(file.read_text())["groups"]:
            for rule in group["rules"]:
                expr = rule["expr"].replace("|", "\\|")
                if "alert" in rule:
                    severity = rule.get("labels", {}).get("severity", "")
                    text = rule.get("annotations", {}).get("description", "")
                    rows.append(
                        f"| `{rule['alert']}` | {severity} | {rule.get('for', '0s')} | {text}<br>`{expr}` |"
                    )
                else:
                    recording.append(f"| `{rule['record']}` | `{expr}` |")
    return [*rows, "", "Recording rules:", "", *recording]


def prometheus_page(metrics: tuple[list[Family], list[Family]], rules_dir: Path) -> str:
    """The series of both services, then the alert and recording rules."""
    service, prediction = metrics
    return "\n".join(
        [
            PROMETHEUS_INTRO,
            "## The monitoring service (`modelmon serve`)\n",
            *_series_table(service),
            "",
            "## An instrumented prediction service (`modelmon.client`)\n",
            "Exported at the prediction service's own `/metrics`: its HTTP traffic, and whether "
            "monitoring keeps up (queue, spool, drops).\n",
            *_series_table(prediction),
            "",
            "## Alert rules\n",
            "The rules in `deploy/prometheus/rules/`, generated from `deploy/prometheus/thresholds.yml` "
            "(see [deployment](../how-to/deployment.md) for changing a threshold); each is unit-tested "
            "with `promtool test rules`.\n",
            *_alerts(rules_dir),
            "",
        ]
    )
