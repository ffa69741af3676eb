"""``modelmon serve``: the online monitoring service."""

from __future__ import annotations

import logging

import click

from modelmon.errors import ModelmonError, require

__all__ = ["serve"]


@click.command("serve")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Monitoring config (YAML).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8085, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--models",
    "model_names",
    help="Serve only these models of the config, comma separated (one process per shard of models; "
    "see modelmon proxy-config).",
)
@click.option(
    "--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning", "error"])
)
def serve(config_path: str, host: str, port: int, model_names: str | None, log_level: str) -> None:
    """Run the monitoring service: ingest, sliding windows, /metrics for Prometheus, dashboard at /."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn = require("uvicorn", "service")
    from modelmon.config import load_config

    try:
        config = load_config(config_path)
        if model_names is not None:
            from modelmon.service.shard import select_models

            config = select_models(config, [name.strip() for name in model_names.split(",") if name.strip()])
        from modelmon.service.app import create_app
        from modelmon.service.runtime import MonitoringService

        service = MonitoringService(config).start()
    except ModelmonError as exc:
        raise click.ClickException(str(exc)) from exc
    app = create_app(service)
    click.echo(f"modelmon monitoring service on http://{host}:{port} (models: {', '.join(service.monitors)})")
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
    finally:
        service.close()
