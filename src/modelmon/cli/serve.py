"""``modelmon serve``: the online monitoring service."""

from __future__ import annotations

import ipaddress
import logging

import click

from modelmon.cli import UsageFailure, failure
from modelmon.errors import ModelmonError, require

__all__ = ["is_loopback", "serve"]

log = logging.getLogger("modelmon.service")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine (``localhost``, 127.0.0.0/8, ``::1``).

    >>> [is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "10.1.2.3", "example.org")]
    [True, True, True, False, False, False]
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


@click.command("serve")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Monitoring config (YAML).",
)
@click.option("--host", help="Interface to listen on  [default: the shard's host, else 127.0.0.1]")
@click.option("--port", type=int, help="Port to listen on  [default: the shard's port, else 8085]")
@click.option(
    "--shard",
    "shard_name",
    help="Serve the models of this shard of the config's shards: section, on its address unless "
    "--host/--port say otherwise (see modelmon proxy-config).",
)
@click.option(
    "--models",
    "model_names",
    help="Serve only these models of the config, comma separated (one process per group of models, "
    "without a shards: section; see modelmon proxy-config).",
)
@click.option(
    "--insecure",
    is_flag=True,
    help="Listen on a non-loopback address without a token (anyone who reaches it can write and read).",
)
@click.option(
    "--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning", "error"])
)
def serve(
    config_path: str,
    host: str | None,
    port: int | None,
    shard_name: str | None,
    model_names: str | None,
    insecure: bool,
    log_level: str,
) -> None:
    """Run the monitoring service: ingest, sliding windows, /metrics for Prometheus, dashboard at /.

    With a token (``auth_token`` in the config or ``MODELMON_TOKEN``) every route but /health needs
    it. Without one the service listens only on a loopback address, unless ``--insecure`` is given.
    """
    if shard_name is not None and model_names is not None:
        raise click.UsageError(
            "--shard and --models are mutually exclusive: --shard serves the models the config's shards: "
            "section gives that shard"
        )
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn = require("uvicorn", "service")
    from modelmon.config import load_config
    from modelmon.service.shard import select_models, select_shard

    try:
        config = load_config(config_path)
        if shard_name is not None:
            shard = config.shard(shard_name)
            config = select_shard(config, shard_name)
            host = shard.host if host is None else host
            port = shard.port if port is None else port
        elif model_names is not None:
            config = select_models(config, [name.strip() for name in model_names.split(",") if name.strip()])
        elif config.shards:
            log.warning(
                "the config has shards (%s) but this process serves every model; pass --shard NAME to "
                "serve one shard",
                ", ".join(config.shards),
            )
    except ModelmonError as exc:
        raise failure(exc) from exc
    host = "127.0.0.1" if host is None else host
    port = 8085 if port is None else port
    if config.auth_token is None and not is_loopback(host):
        if not insecure:
            raise UsageFailure(
                f"refusing to listen on {host} without a token: anyone who can reach it could send events "
                "and read every result. Set auth_token in the config or MODELMON_TOKEN in the environment "
                "(clients then send 'Authorization: Bearer <token>'), or listen on 127.0.0.1, or pass "
                "--insecure to accept the risk."
            )
        log.warning(
            "listening on %s WITHOUT a token (--insecure): anyone who can reach this address can send events "
            "and read every result; set auth_token or MODELMON_TOKEN to require one",
            host,
        )
    try:
        from modelmon.service.app import create_app
        from modelmon.service.connections import guarded_protocol
        from modelmon.service.runtime import MonitoringService

        service = MonitoringService(config, shard=shard_name).start()
    except ModelmonError as exc:
        raise failure(exc) from exc
    app = create_app(service)
    serving = f"shard {shard_name}, " if shard_name is not None else ""
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    click.echo(f"modelmon monitoring service on {url} ({serving}models: {', '.join(service.monitors)})")
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level=log_level,
            access_log=False,
            http=guarded_protocol(service.connections),
        )
    finally:
        service.close()
