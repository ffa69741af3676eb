"""The config keys page: every key the config parser accepts, with its default from the code.

The keys come from the parser's own tables and dataclasses; the sentence beside each is written
here. A key the parser accepts without a sentence here, or a sentence for a key it no longer
accepts, stops the build, so the page always lists exactly the accepted keys.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from modelmon import config
from modelmon.config import alerts as alert_config
from modelmon.config import shards as shard_config
from modelmon.engine.drift.registry import DRIFT_TESTS
from modelmon.schema import Schema

TOP = {
    "store": "Where events, reports and metric history live: `sqlite:///FILE` (default), "
    "`postgresql://...` or `mongodb://...`. `MODELMON_STORE` overrides it.",
    "reports_dir": "Folder of the batch reports' JSON and HTML files, relative to the config file.",
    "auth_token": "Token that may read and write (at least 16 characters). `MODELMON_TOKEN` or the file "
    "named by `MODELMON_TOKEN_FILE` override it. Without one, `modelmon serve` listens on loopback only.",
    "read_token": "Token that may only read (GET): dashboards and Prometheus scrapes. "
    "`MODELMON_READ_TOKEN(_FILE)` override it; needs `auth_token`.",
    "alerts": "What the service does with Alertmanager's notifications at `POST /v1/alerts` (below).",
    "health": "Service name -> health URL, probed and exported as `modelmon_service_up{service}`.",
    "models": "Model name -> the model's settings (below).",
    "max_body_bytes": "Largest request body the service reads; beyond it, 413. A batch may hold at most "
    "one item per 32 of these bytes (327,680 for the default 10 MiB); beyond, 413.",
    "ingest": "How accepted events are made durable (below).",
    "limits": "What one client may hold of the service: read deadlines and connections (below).",
    "shards": "Shard name -> `{address, models}`: which monitoring process owns which models.",
}
MODEL = {
    "reference": "The reference dataset (parquet or CSV), relative to the config file. Every column the "
    "model names must be one of its columns (a misspelt one stops `serve`, `batch`, `report` and `check` "
    "with exit 2 and the closest name); for `serve` and `batch` the prediction, id and timestamp may be "
    "absent, as events bring them.",
    "window": "The sliding window: `{rows: N}` or `{seconds: S}`.",
    "refresh_seconds": "How often the window is recomputed in the background.",
    "model_file": "A pickled model: SHAP attributions, and predictions for a reference without them. "
    "Keep it where only you can write.",
    "drift": "Drift test settings (below).",
    "health_url": "A health URL probed for this model.",
    "buckets": "How many bucket profiles make up the window's ring.",
    "compat": "`evidently`, or a list of old Evidently monitors: also export the old `evidently:*` series.",
    "dedup_ids": "How many of the model's latest event ids tell a resend (200,000, or twice a larger "
    "window by rows).",
    "max_awaiting_target": "Unlabelled events that wait for their late target at most; beyond, the "
    "oldest is forgotten (counted).",
}
SCHEMA = {
    "task": "`regression` or `classification`.",
    "numerical": "Numerical feature columns.",
    "categorical": "Categorical feature columns.",
    "prediction": "The column of the model's prediction (a label for a classifier).",
    "probabilities": "Probability columns: one (the positive class) or one per class.",
    "target": "The ground-truth column, in the reference and in late targets.",
    "id": "The id column that joins late targets to events.",
    "timestamp": "The event time column.",
    "segments": "Columns whose values define segments (top 20 values, the rest `other`).",
    "sensitive": "Protected attributes for the fairness section.",
    "positive_class": "The label counted as positive for precision, recall, F1 and selection rates.",
    "embeddings": "Embedding set name -> its columns; a set's drift is tested on the space as a whole.",
}
WINDOW = {
    "rows": "The window holds the most recent N events.",
    "seconds": "The window holds the events of the last S seconds.",
}
DRIFT = {
    "method": "One drift test for every column (see the table of tests below); by default chosen per "
    "column by the reference's size.",
    "threshold": "One threshold for every column.",
    "columns": "Column -> `{method, threshold}`, overriding the above for that column.",
    "correction": "`bh`: Benjamini-Hochberg correction of the p-value tests.",
    "dataset_share": "Share of drifted features from which the dataset drifted.",
    "min_rows": "One minimum of current values for every test's verdict (0: no warm-up).",
    "embeddings": "Embedding set -> `{method, threshold}` (`model` or `mmd`).",
}
INGEST = {
    "journal_dir": "Where accepted batches are journaled until the store has them.",
    "max_backlog": "Events accepted but not yet stored beyond which ingest answers 503.",
    "fsync": "`interval` (written to the OS before the answer, fsynced every 50 ms) or `group` "
    "(fsynced before each answer).",
    "future_tolerance_seconds": "How far ahead of the time of receipt an event's timestamp may be; "
    "further ahead, the event is rejected (`timestamp_ahead`).",
}
LIMITS = {
    "header_seconds": "A request's headers must arrive within this time, else 408 and the connection closes.",
    "body_seconds": "A request's body must arrive within this time of its headers, else 408.",
    "connections": "Open connections at most (capped at the file limit less 128); a new one closes the "
    "oldest connection still waiting for its headers or idle.",
    "body_bytes_in_flight": "Bytes of request bodies read, parsed and checked at once (by default twice "
    "`max_body_bytes`; a body counts as its bytes or 32 per item of its batch, whichever is more); a body "
    "beyond them is answered 503 with `Retry-After` before it is read.",
}
ALERTS = {
    "public_url": "The service's address as people reach it, for the report links of notifications.",
    "receivers": "Where enriched notifications are posted: a list of receivers (below).",
    "actions": "Model -> a Prefect deployment started when an alert of that model fires (below).",
    "prefect_api_url": "Prefect's API for the actions (`PREFECT_API_URL` when unset).",
    "lookback_seconds": "How far before an alert's start its report looks when the model's window "
    "counts rows.",
}
RECEIVER = {
    "name": "The receiver's name.",
    "type": "`webhook` (a JSON document) or `slack` (a Slack-compatible incoming-webhook body).",
    "url": "Where the notification is posted.",
    "url_file": "A file holding the URL, instead of `url` (keeps a secret URL out of the config).",
    "timeout_seconds": "How long a post may take.",
}
ACTION = {
    "deployment": "The Prefect deployment (`flow-name/deployment-name`) to start, with the parameters "
    "`model`, `since`, `until` and `report_id`.",
    "cooldown_seconds": "At most one run starts per this many seconds.",
    "alerts": "Only these alert names start it (empty: any alert).",
    "prefect_api_url": "Prefect's API for this action.",
}
SHARD = {
    "address": "`HOST:PORT` the shard listens on (IPv6 in brackets).",
    "models": "The models this shard owns; each model belongs to exactly one shard.",
}


def _defaults(cls: type) -> dict[str, Any]:
    defaults = {}
    for field in dataclasses.fields(cls):
        if field.default is not dataclasses.MISSING:
            defaults[field.name] = field.default
        elif field.default_factory is not dataclasses.MISSING:
            defaults[field.name] = field.default_factory()
    return defaults


def _shown(value: Any) -> str:
    if value is None or value in ((), {}):
        return ""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {key: item for key, item in dataclasses.asdict(value).items() if item is not None}
        return f"`{fields}`" if len(fields) == 1 else ""
    return f"`{value}`"


def _table(
    title: str, prefix: str, keys: set[str], sentences: dict[str, str], defaults: dict[str, Any]
) -> str:
    if keys != set(sentences):
        raise ValueError(
            f"{title}: the parser accepts {sorted(keys)} but the page describes {sorted(sentences)}: "
            "describe every accepted key in docs/hooks/pages_config.py, and only those"
        )
    rows = [f"## {title}\n", "| key | default | what it sets |", "|---|---|---|"]
    for key in sorted(keys):
        rows.append(f"| `{prefix}{key}` | {_shown(defaults.get(key))} | {sentences[key]} |")
    return "\n".join(rows) + "\n"


def _drift_tests() -> str:
    rows = [
        "Drift tests (`method`), from the registry of tests:\n",
        "| method | test | score | default threshold | drift when | current values needed |",
        "|---|---|---|---|---|---|",
    ]
    for name, test in DRIFT_TESTS.items():
        when = "score < threshold" if test.kind == "p_value" else "score >= threshold"
        rows.append(
            f"| `{name}` | {test.description} | {test.kind} | {test.threshold} | {when} | {test.min_rows} |"
        )
    return "\n".join(rows) + "\n"


def page() -> str:
    """The page, one table per section of the config file."""
    model_defaults = _defaults(config.ModelConfig)
    top_defaults = _defaults(config.Config)
    top_defaults["store"] = "sqlite:///modelmon.db"
    return "\n".join(
        [
            "# Config keys\n",
            "The monitoring config is one YAML file (`modelmon serve --config F`, `modelmon batch "
            "--config F`, `modelmon report --config F --model NAME`). Relative paths are relative to "
            "the file. An unknown key is an error naming it. An Evidently-service `config.yaml` is "
            "accepted too: see [migrating from Evidently's service](../how-to/evidently-migration.md).\n",
            "```yaml\nstore: sqlite:///modelmon.db\nmodels:\n  taxi-duration:\n    task: regression\n"
            "    reference: data/reference.parquet\n    numerical: [trip_distance, fare_amount]\n"
            "    categorical: [PULocationID]\n    prediction: duration\n    target: duration_actual\n"
            "    id: ride_id\n    window: {rows: 1000}\n```\n",
            _table("Top level", "", config._TOP_KEYS, TOP, top_defaults),
            _table("A model: its settings", "models.NAME.", config._MODEL_KEYS, MODEL, model_defaults),
            _table(
                "A model: its columns",
                "models.NAME.",
                {name for name in Schema.__dataclass_fields__ if name != "extra"},
                SCHEMA,
                _defaults(Schema),
            ),
            _table("The window", "models.NAME.window.", {"rows", "seconds"}, WINDOW, {}),
            _table(
                "Drift settings",
                "models.NAME.drift.",
                set(config.DriftSettings.__dataclass_fields__),
                DRIFT,
                _defaults(config.DriftSettings),
            ),
            _drift_tests(),
            _table("Ingest", "ingest.", config._INGEST_KEYS, INGEST, _defaults(config.IngestSettings)),
            _table("Limits", "limits.", config._LIMITS_KEYS, LIMITS, _defaults(config.Limits)),
            _table("Alerts", "alerts.", alert_config._KEYS, ALERTS, _defaults(alert_config.AlertSettings)),
            _table(
                "An alert receiver",
                "alerts.receivers[].",
                alert_config._RECEIVER_KEYS,
                RECEIVER,
                _defaults(alert_config.Receiver),
            ),
            _table(
                "An alert action",
                "alerts.actions.MODEL.",
                alert_config._ACTION_KEYS,
                ACTION,
                _defaults(alert_config.AlertAction),
            ),
            _table("Shards", "shards.NAME.", shard_config._SHARD_KEYS, SHARD, {}),
        ]
    )
