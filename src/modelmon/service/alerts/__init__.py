"""From an alert to its diagnosis and an action: Alertmanager's webhook (``POST /v1/alerts``).

- :mod:`.payload`: the webhook body (version 4) and its schema;
- :mod:`.desk`: what happens to each alert (one report per alert and period, notifications, action);
- :mod:`.book`: the record of every alert, its report, deliveries and action;
- :mod:`.diagnosis` and :mod:`.findings`: the report of the alert's period and its ranked summary;
- :mod:`.notify`: the enriched notifications (generic JSON, Slack-compatible);
- :mod:`.action`: the opt-in Prefect deployment run;
- :mod:`.metrics`: their Prometheus series.
"""
