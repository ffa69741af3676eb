"""``modelmon batch``, ``modelmon backfill`` and ``modelmon schedule``: batch reports with Prefect.

Without ``PREFECT_API_URL`` a run starts a temporary Prefect server for its own duration
(Prefect's ephemeral mode); with it, runs are recorded on that server. Prefect is imported only when
one of these commands runs (the ``batch`` extra).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any

import click

from modelmon.errors import ConfigError, ModelmonError

__all__ = ["backfill", "batch", "prefect_environment", "schedule"]

#: Prefect settings modelmon chooses unless the environment sets them
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # the temporary server of ephemeral mode needs longer than Prefect's default 20 s on small machines
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def prefect_environment(environ: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """Fill in :data:`PREFECT_DEFAULTS` (before Prefect is imported: it reads them once).

    >>> environ = {"PREFECT_SERVER_ANALYTICS_ENABLED": "true"}
    >>> prefect_environment(environ)
    >>> environ["PREFECT_SERVER_ANALYTICS_ENABLED"], len(environ)
    ('true', 2)
    """
    for key, value in PREFECT_DEFAULTS.items():
        environ.setdefault(key, value)


def _errors_exit_2(command: Callable[..., None]) -> Callable[..., None]:
    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except ModelmonError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)

    return run


def _check_model(config_path: str, model: str) -> None:
    """Fail before Prefect starts when the config, the model name or a column the model names is wrong."""
    from modelmon.config import load_config
    from modelmon.flows.reference import check_reference

    check_reference(load_config(config_path).model(model))


def _run_flow(
    config_path: str,
    model: str,
    start: datetime,
    end: datetime,
    checks: list[str] | bool = False,
    **scale: Any,
) -> dict[str, Any]:
    prefect_environment()
    from modelmon.flows.batch import batch_report

    options = {key: value for key, value in scale.items() if value is not None}
    return batch_report(
        config_path=str(config_path), model=model, start=start, end=end, checks=checks, **options
    )


def _checks(value: str | None) -> list[str] | bool:
    """``--checks``: ``default`` (generated from the reference) or a conditions file, read up front."""
    if value is None:
        return False
    if value == "default":
        return True
    from pathlib import Path

    from modelmon.cli.check import load_conditions

    return [condition.text for condition in load_conditions(Path(value))]


def _summary(result: dict[str, Any]) -> str:
    period = f"[{result['start']}, {result['end']})"
    if result["report_id"] is None:
        return f"{result['model']} {period}: no events, no report"
    drift = "DATASET DRIFT" if result.get("dataset_drift") else "no dataset drift"
    return (
        f"{result['model']} {period}: {result['current_rows']} events, {drift}; "
        f"report {result['report_id']}\n  JSON: {result['json']}\n  HTML: {result['html']}"
    )


_config_option = click.option(
    "--config", "config_path", required=True, type=click.Path(dir_okay=False), help="Monitoring config file."
)
_model_option = click.option("--model", required=True, help="Model name in the config.")


@click.command()
@_config_option
@_model_option
@click.option("--since", help="Report on the last DURATION of events (30m, 24h, 7d) up to now.")
@click.option("--start", help="Start of the period (ISO 8601, UTC unless it says otherwise).")
@click.option("--end", help="End of the period, excluded (ISO 8601).")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Profile sub-periods on a local Dask cluster of N processes.",
)
@click.option(
    "--scheduler", help="Profile sub-periods on the Dask cluster of this scheduler (tcp://HOST:PORT)."
)
@click.option("--memory-budget", help="Memory for one chunk of events and the work on it (default 256MiB).")
@click.option(
    "--checks",
    "checks_option",
    help="Check the report: 'default' (conditions generated from the reference) or a conditions "
    "file (as modelmon check's); a failed check exits 1 after the report is stored.",
)
@_errors_exit_2
def batch(
    config_path: str,
    model: str,
    since: str | None,
    start: str | None,
    end: str | None,
    workers: int | None,
    scheduler: str | None,
    memory_budget: str | None,
    checks_option: str | None = None,
) -> None:
    """Compare one period of stored events with the reference and write a report.

    The report is stored (the dashboard lists it), written as JSON and HTML under the config's
    reports_dir, and its headline numbers are added to the metric history.
    """
    from modelmon.flows.periods import resolve_period

    if since is not None and (start is not None or end is not None):
        raise ConfigError("give either --since or --start and --end, not both")
    if since is None and (start is None or end is None):
        raise ConfigError("give --since DURATION (such as 24h), or both --start and --end")
    first, last = resolve_period(start, end, since, now=datetime.now(UTC))
    _check_model(config_path, model)
    if workers is not None and scheduler is not None:
        raise ConfigError("--workers starts a local cluster, --scheduler joins one: give one of them")
    if memory_budget is not None:
        from modelmon.reading.sizes import parse_bytes

        parse_bytes(memory_budget)  # a bad size stops here, before Prefect starts
    scale = {"workers": workers, "scheduler": scheduler, "memory_budget": memory_budget}
    checks = _checks(checks_option)
    from modelmon.errors import ChecksFailed

    try:
        click.echo(_summary(_run_flow(config_path, model, first, last, checks, **scale)))
    except ChecksFailed as exc:
        click.echo(f"Checks failed: {exc}", err=True)
        sys.exit(1)


@click.command()
@_config_option
@_model_option
@click.option("--start", required=True, help="Start of the first period (ISO 8601).")
@click.option("--end", required=True, help="End of the last period, excluded (ISO 8601).")
@click.option("--every", default="1d", show_default=True, help="Length of each period (30m, 1h, 1d, 7d).")
@_errors_exit_2
def backfill(config_path: str, model: str, start: str, end: str, every: str) -> None:
    """Write one report per period from START to END (the last period stops at END)."""
    from modelmon.flows.periods import periods

    spans = list(periods(start, end, every))
    _check_model(config_path, model)
    for first, last in spans:
        click.echo(_summary(_run_flow(config_path, model, first, last)))
    click.echo(f"backfilled {len(spans)} periods of {model}")


@click.command()
@_config_option
@click.option(
    "--model", "models", multiple=True, help="Model to schedule (repeatable; default: every model)."
)
@click.option("--cron", help="Cron schedule, such as '0 * * * *' (every hour on the hour).")
@click.option("--every", help="Interval between runs, such as 1h or 30m.")
@click.option(
    "--period", help="Length of the period each run reports on (default: the time between two runs)."
)
@_errors_exit_2
def schedule(
    config_path: str, models: tuple[str, ...], cron: str | None, every: str | None, period: str | None
) -> None:
    """Serve the batch report on a schedule against the Prefect server of PREFECT_API_URL.

    Keeps running (stop it with Ctrl-C); each run reports on the period ending at its scheduled time.
    """
    from modelmon.config import load_config

    config = load_config(config_path)
    names = list(models) or sorted(config.models)
    for name in names:
        config.model(name)
    if not names:
        raise ConfigError(f"{config_path}: the config defines no models to schedule")
    prefect_environment()
    from modelmon.flows.schedule import serve_schedule

    serve_schedule(config_path, names, cron=cron, every=every, period=period, ready=click.echo)
