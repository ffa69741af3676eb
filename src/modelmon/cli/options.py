"""The column options that ``modelmon report`` and ``modelmon check`` share, so that a report and
the gate on it run with one schema.

>>> import click
>>> from click.testing import CliRunner
>>> @click.command()
... @column_options
... def show(**options):
...     click.echo(sorted(column_roles(options)["categorical"]))
>>> CliRunner().invoke(show, ["--categorical", "sex, clinic"]).output
"['clinic', 'sex']\\n"
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = ["column_options", "column_roles", "split_names"]

_Command = TypeVar("_Command", bound=Callable[..., Any])

#: (option, parameter name, help), in the order ``--help`` lists them
_OPTIONS = (
    ("--numerical", "numerical", "Numerical feature columns, comma separated."),
    ("--categorical", "categorical", "Categorical feature columns, comma separated."),
    ("--prediction", "prediction", "Prediction column."),
    (
        "--probabilities",
        "probabilities",
        "Predicted probability columns, comma separated: the positive class's for a binary classifier, "
        "else one per class (ROC AUC and log loss; not features).",
    ),
    ("--target", "target", "Target (ground truth) column."),
    ("--segments", "segments", "Columns whose values define segments, comma separated."),
    ("--sensitive", "sensitive", "Sensitive attribute columns (fairness), comma separated."),
    ("--id", "id_column", "Row id column (not a feature)."),
    ("--timestamp", "timestamp", "Timestamp column (not a feature; orders the error stream)."),
)
#: the options naming several columns
_LISTS = ("numerical", "categorical", "probabilities", "segments", "sensitive")


def split_names(value: str | None) -> tuple[str, ...] | None:
    """``"a, b"`` -> ``("a", "b")``; ``None`` when the option was not given.

    >>> split_names("sex, clinic,"), split_names(None)
    (('sex', 'clinic'), None)
    """
    if value is None:
        return None
    return tuple(name.strip() for name in value.split(",") if name.strip())


def column_options(command: _Command) -> _Command:
    """Add the column options, ``--task`` and ``--only-given`` to a command."""
    decorators = [click.option(flag, name, help=text) for flag, name, text in _OPTIONS]
    decorators.append(
        click.option("--task", type=click.Choice(["regression", "classification"]), help="Model task.")
    )
    decorators.append(
        click.option(
            "--only-given",
            is_flag=True,
            help="Monitor only the features given with --numerical/--categorical (by default the "
            "reference's other columns are still inferred).",
        )
    )
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def column_roles(options: dict[str, Any]) -> dict[str, Any]:
    """The schema roles of a command's parsed options (it keeps its other parameters), as the
    schema inference takes them. The options are removed from ``options``."""
    roles: dict[str, Any] = {}
    for _, name, _ in _OPTIONS:
        value = options.pop(name)
        role = "id" if name == "id_column" else name
        roles[role] = split_names(value) if name in _LISTS else value
    roles["task"] = options.pop("task")
    roles["only_given"] = options.pop("only_given")
    return roles
