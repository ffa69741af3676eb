"""``modelmon proxy-config``: the nginx config in front of several ``modelmon serve --models`` processes."""

from __future__ import annotations

import sys

import click

from modelmon.errors import ModelmonError

__all__ = ["proxy_config"]


@click.command("proxy-config")
@click.option(
    "--config", "config_path", required=True, type=click.Path(dir_okay=False), help="Monitoring config."
)
@click.option(
    "--shard",
    "shards",
    multiple=True,
    required=True,
    help="HOST:PORT=MODEL[,MODEL...]: the process at HOST:PORT serves these models (repeat per process; "
    "the first also gets the dashboard, /health and the model list).",
)
@click.option(
    "--listen", default="8085", show_default=True, help="Port (or address:port) the proxy listens on."
)
def proxy_config(config_path: str, shards: tuple[str, ...], listen: str) -> None:
    """Print an nginx config that routes each model's routes to the process that owns it.

    Start each process with ``modelmon serve --config F --models MODELS --port PORT``; every model
    of the config must be owned by exactly one of them.
    """
    from modelmon.config import load_config
    from modelmon.service.shard import nginx_config, parse_shards

    try:
        owners = parse_shards(shards, load_config(config_path))
    except ModelmonError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    click.echo(nginx_config(owners, listen), nl=False)
