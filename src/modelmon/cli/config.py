"""``modelmon config``: working with config files (``from-evidently`` translates an old one)."""

from __future__ import annotations

from pathlib import Path

import click
import yaml

from modelmon.errors import ConfigError

__all__ = ["config"]


@click.group("config")
def config() -> None:
    """Monitoring config files."""


@config.command("from-evidently")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def from_evidently(file: Path) -> None:
    """Print the modelmon config equivalent to Evidently's monitoring-service config FILE.

    Options without a modelmon counterpart are listed as comments on top; an option modelmon
    cannot honour stops with an error naming it (exit code 2). `modelmon serve --config FILE`
    reads the old file the same way, so converting is optional.
    """
    from modelmon.compat.evidently_config import render, translate

    try:
        data = yaml.safe_load(file.read_text())
        click.echo(render(translate(data, file.parent), file.name), nl=False)
    except OSError as exc:
        raise click.UsageError(f"cannot read {file}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise click.UsageError(f"{file} is not valid YAML: {exc}") from exc
    except ConfigError as exc:
        raise click.UsageError(f"{file}: {exc}") from exc
