"""``modelmon proxy-config``: the nginx config in front of several ``modelmon serve`` processes, one per
shard of the config's ``shards:`` section (or per ``--shard`` option)."""

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
    help="HOST:PORT=MODEL[,MODEL...]: the process at HOST:PORT serves these models (repeat per process; "
    "the first also gets the dashboard, /health and the model list). Default: the config's shards: section.",
)
@click.option(
    "--listen", default="8085", show_default=True, help="Port (or address:port) the proxy listens on."
)
def proxy_config(config_path: str, shards: tuple[str, ...], listen: str) -> None:
    """Print an nginx config that routes each model's routes to the process that owns it.

    With a ``shards:`` section in the config, start each process with ``modelmon serve --config F
    --shard NAME``; the first shard also gets the dashboard, /health and the model list. Without
    one, give ``--shard`` per process started with ``modelmon serve --config F --models MODELS
    --port PORT``; every model of the config must be owned by exactly one of them.
    """
    from modelmon.config import load_config
    from modelmon.service.shard import config_routes, nginx_config, parse_shards

    try:
        config = load_config(config_path)
        owners = parse_shards(shards, config) if shards else config_routes(config)
    except ModelmonError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    click.echo(nginx_config(owners, listen, config.limits, config.max_body_bytes), nl=False)
