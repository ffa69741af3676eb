"""``modelmon check``: build the report and gate a pipeline on conditions over it.

Exit code 0 when every condition holds, 1 when one fails, 2 on a usage error (a missing file, a
condition that cannot be read, a path the report does not have).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from modelmon.cli.options import column_options, column_roles
from modelmon.errors import ModelmonError

__all__ = ["check", "load_conditions"]


def load_conditions(path: Path) -> list[Any]:
    """The conditions of a YAML file (see :mod:`modelmon.engine.checks` for the grammar)."""
    import yaml

    from modelmon.engine.checks import parse_conditions
    from modelmon.errors import CheckError

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CheckError(f"{path}: no such conditions file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckError(f"{path}: cannot read the conditions file: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CheckError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return parse_conditions(document)
    except CheckError as exc:
        raise CheckError(f"{path}: {exc}") from exc


def _sections(conditions: list[Any] | None) -> tuple[str, ...] | None:
    """The report sections the conditions read (the default conditions read three)."""
    from modelmon.engine.sections import section_names

    if conditions is None:
        return ("drift", "quality", "performance")
    known = section_names()
    wanted = tuple(dict.fromkeys(c.path[0] for c in conditions if c.path[0] in known))
    return wanted or ("drift",)


def _table(suite: Any) -> None:
    import io
    import shutil

    from rich.console import Console
    from rich.table import Table

    buffer = io.StringIO()
    console = Console(file=buffer, highlight=False, width=shutil.get_terminal_size((120, 20)).columns)
    table = Table("", "check", "value", "condition", title="modelmon check")
    for result in suite.checks:
        mark = "[green]PASS[/]" if result.passed else "[bold red]FAIL[/]"
        value = f"{result.actual:.4g}" if isinstance(result.actual, float) else repr(result.actual)
        table.add_row(mark, result.name, value, result.condition if result.passed else result.detail)
    console.print(table)
    failed = len(suite.failed)
    verdict = "[bold green]all passed[/]" if not failed else f"[bold red]{failed} failed[/]"
    source = "generated from the reference" if suite.generated else "given"
    console.print(f"{len(suite.checks)} checks ({source}): {verdict}")
    click.echo(buffer.getvalue(), nl=False)


@click.command("check")
@click.argument("reference", type=click.Path(path_type=Path))
@click.argument("current", type=click.Path(path_type=Path))
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Monitoring config (YAML).")
@click.option("--model", "model_name", help="Model of the config whose schema and drift settings to use.")
@click.option(
    "--conditions",
    "conditions_path",
    type=click.Path(path_type=Path),
    help="YAML list of conditions such as 'drift.dataset_drift == false' (default: generated from the "
    "reference).",
)
@column_options
@click.option(
    "--memory-budget",
    default="256MiB",
    show_default=True,
    help="Memory for one chunk of data and the work on it (e.g. 512MiB, 2GB).",
)
@click.option("--junit", "junit_path", type=click.Path(path_type=Path), help="Write JUnit XML here.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the check results here.")
def check(
    reference: Path,
    current: Path,
    config_path: Path | None,
    model_name: str | None,
    conditions_path: Path | None,
    memory_budget: str,
    junit_path: Path | None,
    json_path: Path | None,
    **columns: Any,
) -> None:
    """Check CURRENT against REFERENCE (parquet or CSV): exit 0 when every condition holds, 1 when
    one fails, 2 on a usage error.

    The schema is found as ``modelmon report`` finds it (the same column options). A current file
    without rows or without the schema's columns is a usage error (exit 2): it is never a pass.
    """
    try:
        from modelmon.cli.report import _check_rows, _model_config, _say_schema
        from modelmon.engine.build import build_report
        from modelmon.engine.checks import run_checks
        from modelmon.reading.files import file_format
        from modelmon.reading.plan import ReadPlan, check_current
        from modelmon.reading.sizes import parse_bytes

        budget = parse_bytes(memory_budget)
        conditions = load_conditions(conditions_path) if conditions_path is not None else None
        model = _model_config(config_path, model_name)
        file_format(current)
        schema = ReadPlan(budget).schema_for(
            reference, model.schema if model is not None else None, **column_roles(columns)
        )
        if model is None:
            _say_schema(schema, reference)
        check_current(current, schema)
        report = build_report(
            reference,
            current,
            schema,
            drift=model.drift if model is not None else None,
            sections=_sections(conditions),
            memory_budget=budget,
            progress=True,
        )
        _check_rows(report, current)
        suite = run_checks(report, conditions)
        if json_path is not None:
            from modelmon.render.json import write_json

            write_json(json_path, suite.to_dict())
        if junit_path is not None:
            from modelmon.render.junit import write_junit

            write_junit(junit_path, suite.to_dict(), name=model.name if model is not None else current.stem)
    except ModelmonError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    _table(suite)
    sys.exit(0 if suite.passed else 1)
