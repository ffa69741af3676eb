"""``modelmon serve``: the online monitoring service."""

from __future__ import annotations

import ipaddress
import logging

import click

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
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8085, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--insecure",
    is_flag=True,
    help="Listen on a non-loopback address without a token (anyone who reaches it can write and read).",
)
@click.option(
    "--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning", "error"])
)
def serve(config_path: str, host: str, port: int, insecure: bool, log_level: str) -> None:
    """Run the monitoring service: ingest, sliding windows, /metrics for Prometheus, dashboard at /.

    With a token (``auth_token`` in the config or ``MODELMON_TOKEN``) every route but /health needs
    it. Without one the service listens only on a loopback address, unless ``--insecure`` is given.
    """
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn = require("uvicorn", "service")
    from modelmon.config import load_config

    try:
        config = load_config(config_path)
    except ModelmonError as exc:
        raise click.ClickException(str(exc)) from exc
    if config.auth_token is None and not is_loopback(host):
        if not insecure:
            raise click.ClickException(
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
