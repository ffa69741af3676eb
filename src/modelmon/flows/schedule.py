"""Serving ``batch_report`` on a schedule against a Prefect server.

One deployment per model, named ``<model>-batch``; each scheduled run reports on the ``period``
that ends at its scheduled time (by default the time between two runs, so periods tile). The
process that serves them must keep running: it polls the server for due runs and starts each one
in a subprocess.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from modelmon.errors import ConfigError, require
from modelmon.flows.periods import parse_duration

__all__ = ["api_url", "cron_period", "deployment_name", "serve_schedule"]


def deployment_name(model: str) -> str:
    """The Prefect deployment of ``model``'s batch report.

    >>> deployment_name("taxi-duration")
    'taxi-duration-batch'
    """
    return f"{model}-batch"


def cron_period(cron: str) -> timedelta:
    """The time between the next two runs of a cron schedule (the period each run reports on)."""
    try:
        from prefect._vendor.croniter import croniter
    except ImportError as exc:  # Prefect reorganised its vendored packages
        raise ConfigError(f"cannot read the cron schedule {cron!r} here; give --period as well") from exc
    if not croniter.is_valid(cron):
        raise ConfigError(f"cron schedule {cron!r} is not valid; for example '0 * * * *' runs every hour")
    moments = croniter(cron, datetime.now(UTC))
    first = moments.get_next(datetime)
    return moments.get_next(datetime) - first


def api_url() -> str:
    """The Prefect API that ``PREFECT_API_URL`` names, checked to answer; a clear error otherwise."""
    import httpx
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value() or os.environ.get("PREFECT_API_URL")
    if not url:
        raise ConfigError(
            "PREFECT_API_URL is not set: a schedule needs a running Prefect server. Start one with "
            "`prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    try:
        response = httpx.get(f"{url.rstrip('/')}/health", timeout=10)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise ConfigError(
            f"the Prefect server at PREFECT_API_URL={url} does not answer ({exc}); "
            "start it with `prefect server start`"
        ) from exc
    return str(url)


def serve_schedule(
    config_path: str | os.PathLike[str],
    models: Sequence[str],
    *,
    cron: str | None = None,
    every: str | None = None,
    period: str | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Register one deployment per model and run them as they fall due (blocks until stopped).

    ``ready`` is given a line saying what is served once everything is checked (the extra, the
    options, the Prefect server), just before serving starts: a run that fails never announces itself.
    """
    require("prefect", "batch")
    if (cron is None) == (every is None):
        raise ConfigError("give exactly one of --cron (such as '0 * * * *') or --every (such as 1h)")
    interval = parse_duration(every, "every") if every is not None else None
    if period is not None:
        parse_duration(period, "period")
    else:
        between = interval if interval is not None else cron_period(cron)  # type: ignore[arg-type]
        period = f"{int(between.total_seconds())}s"
    api_url()
    import prefect
    from prefect.deployments.runner import EntrypointType

    from modelmon.flows.batch import batch_report

    deployments: list[Any] = []
    for model in models:
        deployments.append(
            batch_report.to_deployment(
                name=deployment_name(model),
                interval=interval,
                cron=cron,
                parameters={
                    "config_path": str(Path(config_path).resolve()),
                    "model": model,
                    "period": period,
                },
                # the installed package, not a file path: runs work from any working directory
                entrypoint_type=EntrypointType.MODULE_PATH,
                description=f"modelmon batch report of {model}: the last {period} of stored events",
            )
        )
    if ready is not None:
        how = f"cron {cron!r}" if cron else f"every {every}"
        names = ", ".join(models)
        ready(f"serving batch reports of {names} ({how}, each on the last {period}); Ctrl-C stops")
    prefect.serve(*deployments)
