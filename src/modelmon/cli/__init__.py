"""The ``modelmon`` command.

Each part of modelmon registers its sub-commands in its own module below; this table is the one
place that lists them, so nothing is registered by import side effects.
"""

from __future__ import annotations

import importlib

import click

#: module (under modelmon.cli) -> names of the click commands or groups it defines
COMMANDS: dict[str, tuple[str, ...]] = {
    "batch": ("batch", "backfill", "schedule"),
    "demo": ("demo_service", "simulate", "demo"),
    "demo_data": ("demo_data",),
    "report": ("report",),
    "serve": ("serve",),
    "targets": ("targets",),
}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="modelmon")
def cli() -> None:
    """Monitor machine-learning models in production: drift, data quality, performance and more."""


def _register() -> None:
    for module_name, names in COMMANDS.items():
        module = importlib.import_module(f"modelmon.cli.{module_name}")
        for name in names:
            cli.add_command(getattr(module, name))


def main() -> None:
    """Entry point of the ``modelmon`` script."""
    _register()
    cli()
