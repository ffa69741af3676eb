"""The ``modelmon`` command.

Each part of modelmon defines its sub-commands in its own module below; this table is the one
place that lists them, so nothing is registered by import side effects. A command's module is
imported only when that command runs (or ``--help`` lists them all).

Exit codes are the same in every command: 0 done, 1 a check or a run failed, 2 a usage error (a
wrong option, config, file or column, or a missing extra: ``Error: ...`` on stderr, no traceback).
"""

from __future__ import annotations

import importlib

import click

from modelmon.cli import process
from modelmon.errors import ModelmonError, StoreError

#: module (under modelmon.cli) -> names of the click commands or groups it defines
COMMANDS: dict[str, tuple[str, ...]] = {
    "batch": ("batch", "backfill", "schedule"),
    "check": ("check",),
    "config": ("config",),
    "demo": ("demo_service", "simulate", "demo"),
    "demo_data": ("demo_data",),
    "report": ("report",),
    "serve": ("serve",),
    "shard": ("proxy_config",),
    "targets": ("targets",),
}


#: top-level modules of the optional extras -> the extra that installs them
EXTRAS = {
    "starlette": "service",
    "uvicorn": "service",
    "httptools": "service",
    "orjson": "service",
    "jsonschema_rs": "service",
    "prometheus_client": "service",
    "flask": "demo",
    "prefect": "batch",
    "pymongo": "mongo",
    "psycopg": "postgres",
    "psycopg_pool": "postgres",
    "shap": "explain",
    "dask": "dask",
    "distributed": "dask",
    "prefect_dask": "dask",
}


class UsageFailure(click.ClickException):
    """A usage error found while a command runs (a wrong config, file or column): ``Error: ...``
    and exit code 2, as click's own usage errors."""

    exit_code = 2


def failure(exc: ModelmonError) -> click.ClickException:
    """What a command raises to end on a modelmon error: exit 2, except a store that failed while
    the command ran (exit 1: the command was used right).

    >>> from modelmon.errors import ConfigError
    >>> failure(ConfigError("no models")).exit_code, failure(StoreError("disk full")).exit_code
    (2, 1)
    """
    if isinstance(exc, StoreError):
        return click.ClickException(str(exc))
    return UsageFailure(str(exc))


def _command_name(attribute: str) -> str:
    """A command's name on the command line: its attribute with dashes (``demo_data``: ``demo-data``)."""
    return attribute.replace("_", "-")


class _Commands(click.Group):
    """The commands of :data:`COMMANDS`, each module imported only when one of its commands is wanted,
    so that ``modelmon report`` does not load the stores, the service or Prefect."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_command_name(name) for names in COMMANDS.values() for name in names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        for module_name, names in COMMANDS.items():
            for name in names:
                if _command_name(name) == cmd_name:
                    command: click.Command = getattr(
                        importlib.import_module(f"modelmon.cli.{module_name}"), name
                    )
                    return command
        return None

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; a missing extra or a modelmon error becomes one line and its exit code."""
        try:
            return super().invoke(ctx)
        except ModuleNotFoundError as exc:
            extra = EXTRAS.get((exc.name or "").split(".")[0])
            if extra is None:
                raise
            raise UsageFailure(
                f"{exc.name} is needed for this command: pip install 'modelmon[{extra}]'"
            ) from exc
        except ModelmonError as exc:
            raise failure(exc) from exc


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="modelmon")
def cli() -> None:
    """Monitor machine-learning models in production: drift, data quality, performance and more."""


def main() -> None:
    """Entry point of the ``modelmon`` script: the process is the command's own, so it may tune it
    (:mod:`modelmon.cli.process`)."""
    process.own()
    try:
        cli()  # click ends with SystemExit, carrying the command's status
    except SystemExit as finished:
        process.end(finished)
        raise
