"""``modelmon report``: compare a current dataset with a reference and write JSON and HTML reports."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from modelmon.cli.options import column_options, column_roles, split_names
from modelmon.errors import ConfigError, InputError, ModelmonError

__all__ = ["report"]


def _model_config(config_path: Path | None, model_name: str | None) -> Any:
    if config_path is None:
        if model_name is not None:
            raise ConfigError("--model needs --config FILE, the config that defines the model")
        return None
    from modelmon.config import load_config

    config = load_config(config_path)
    if model_name is not None:
        return config.model(model_name)
    if len(config.models) == 1:
        return next(iter(config.models.values()))
    known = ", ".join(sorted(config.models)) or "none"
    raise ConfigError(f"{config_path}: say which model with --model NAME (models in the config: {known})")


def _check_rows(result: Any, current: Any) -> None:
    """Fail on a current dataset without rows: nothing was compared, so nothing can pass."""
    if result.current_rows == 0:
        where = f"the current data ({current})" if isinstance(current, str | Path) else "the current data"
        raise InputError(f"{where} has no rows: there is nothing to compare with the reference")


def _say_schema(schema: Any, reference: Any) -> None:
    """The schema a command inferred and the reference's columns it leaves out, on stderr, said
    before the long part so that a wrong guess can be corrected at once."""
    from modelmon.reading.plan import columns_of

    columns, nested = columns_of(reference)
    named = set(schema.named_columns)
    left_out = [
        f"{name} ({nested[name]})" if name in nested else name for name in columns if name not in named
    ]
    lines = schema.to_config_text().splitlines()
    if left_out:
        lines.append(f"# not monitored: {', '.join(left_out)}")
    inferred = "\n".join(f"  {line}" for line in lines)
    click.echo(
        f"Inferred schema (correct it with --numerical, --categorical, ... or a config):\n{inferred}",
        err=True,
    )


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}"


#: the metrics the closing summary shows, per task, when the report has them
SUMMARY_METRICS = {
    "regression": ("mae", "rmse", "r2"),
    "classification": ("accuracy", "precision", "recall", "f1", "roc_auc"),
}


def performance_line(performance: dict[str, Any]) -> str | None:
    """The closing summary's line on performance: reference -> current of the headline metrics, the
    label-free estimate when the current data has no labels, or why there is none.

    >>> performance_line({"applicable": True, "task": "regression", "labelled_rows": 142,
    ...                   "reference": {"mae": 18.04, "rmse": 22.5}, "current": {"mae": 49.2, "rmse": 61.0}})
    'Performance (regression, 142 labelled rows): mae 18.04 -> 49.2, rmse 22.5 -> 61'
    """
    if not performance:
        return None
    block, title = (
        performance,
        f"Performance ({performance.get('task')}, {performance.get('labelled_rows')} labelled rows)",
    )
    estimated = performance.get("estimated") or {}
    if not performance.get("applicable"):
        if not estimated.get("applicable"):
            reason = performance.get("reason") or performance.get("error") or "it does not apply"
            return f"Performance: not measured ({reason})"
        block, title = estimated, f"Estimated performance ({estimated.get('method')}, no labels)"
    before, after = block.get("reference") or {}, block.get("current") or {}
    names = SUMMARY_METRICS.get(str(performance.get("task")), SUMMARY_METRICS["regression"])
    shown = [
        f"{name} {_number(before.get(name))} -> {_number(after.get(name))}" for name in names if name in after
    ]
    return f"{title}: {', '.join(shown)}" if shown else None


def _summary(result: Any, written: list[Path]) -> None:
    import io
    import shutil

    from rich.console import Console
    from rich.table import Table

    # rendered to text first and written with click, so the summary goes wherever click's stdout
    # goes (a pipe, a file, a test runner) whatever terminal rich thinks it is on
    buffer = io.StringIO()
    console = Console(file=buffer, highlight=False, width=shutil.get_terminal_size((100, 20)).columns)
    data = result.to_dict()
    console.print(
        f"Compared {data['current_rows']:,} current rows with {data['reference_rows']:,} reference rows."
    )
    drift = data["drift"]
    if drift.get("applicable") is not False and "columns" in drift:
        verdict = {True: "[bold red]DRIFT[/]", False: "[bold green]no drift[/]"}.get(
            drift["dataset_drift"],
            "[bold yellow]no verdict[/]",  # null: no feature could be tested
        )
        tested = drift.get("tested_features", len(drift["columns"]))
        console.print(
            f"Dataset drift: {verdict} ({drift['drifted_count']} of {tested} tested features, "
            f"share {_number(drift['drifted_share'])}, threshold {_number(drift['share_threshold'])})"
        )
        from modelmon.render.data_health import drift_severity

        drifted = [(name, col) for name, col in drift["columns"].items() if col.get("detected")]
        drifted.sort(key=lambda pair: -drift_severity(pair[1]))
        if drifted:
            table = Table(
                "column", "role", "method", "score", "p-value", "threshold", title="Drifted columns"
            )
            for name, col in drifted[:10]:
                values = (col.get("score"), col.get("p_value"), col.get("threshold"))
                table.add_row(name, str(col.get("role")), str(col["method"]), *map(_number, values))
            console.print(table)
    line = performance_line(data["performance"]) if "performance" in result.sections else None
    if line is not None:
        console.print(line, markup=False, soft_wrap=True)
    if "quality" in result.sections:
        issues = data["quality"].get("issues", [])
        console.print(f"Data quality issues: {len(issues)}")
        for issue in issues[:10]:
            console.print(f"  - {issue['message']}", markup=False)
        if len(issues) > 10:
            console.print(f"  ... and {len(issues) - 10} more in the report")
    for path in written:
        console.print(f"Wrote {path}", markup=False)
    if not written:
        console.print("Nothing written: add --json FILE and/or --html FILE to save the report.")
    click.echo(buffer.getvalue(), nl=False)


@click.command("report")
@click.argument("reference", type=click.Path(path_type=Path))
@click.argument("current", type=click.Path(path_type=Path))
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Monitoring config (YAML).")
@click.option("--model", "model_name", help="Model of the config whose schema and drift settings to use.")
@column_options
@click.option(
    "--model-file", type=click.Path(path_type=Path), help="Fitted estimator (joblib/pickle) for SHAP."
)
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the report JSON here.")
@click.option("--html", "html_path", type=click.Path(path_type=Path), help="Write the HTML report here.")
@click.option(
    "--sections",
    help="Only these report sections, comma separated (default: all): drift, quality, performance, "
    "segments, fairness, outliers, explain, concept, multivariate.",
)
@click.option(
    "--memory-budget",
    default="256MiB",
    show_default=True,
    help="Memory for one chunk of data and the work on it (e.g. 512MiB, 2GB); chunks of both files "
    "are sized by it.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Profile partitions on a local Dask cluster of N worker processes (pip install 'modelmon[dask]').",
)
@click.option(
    "--scheduler", help="Profile partitions on the Dask cluster of this scheduler (tcp://HOST:PORT)."
)
@click.option(
    "--chunk-rows",
    type=click.IntRange(min=1),
    help="Deprecated: rows read at a time (overrides --memory-budget); use --memory-budget.",
)
def report(
    reference: Path,
    current: Path,
    config_path: Path | None,
    model_name: str | None,
    model_file: Path | None,
    json_path: Path | None,
    html_path: Path | None,
    sections: str | None,
    memory_budget: str,
    workers: int | None,
    scheduler: str | None,
    chunk_rows: int | None,
    **columns: Any,
) -> None:
    """Compare CURRENT with REFERENCE (parquet or CSV files): drift, data quality and model health.

    The schema comes from the config's model (--config, --model), else it is inferred from the
    reference; the column options override either.
    """
    try:
        from modelmon.cli import process
        from modelmon.reading.sizes import parse_bytes

        budget = parse_bytes(memory_budget)
        process.prepare_report((reference, current), head_bytes=budget)  # before numpy and pandas
        from modelmon.engine.build import build_report
        from modelmon.engine.sections import check_sections
        from modelmon.reading.files import file_format
        from modelmon.reading.plan import ReadPlan, check_current

        if workers is not None and scheduler is not None:
            raise ConfigError("--workers starts a local cluster, --scheduler joins one: give one of them")
        if chunk_rows is not None:
            click.echo("Warning: --chunk-rows is deprecated; chunks are sized by --memory-budget.", err=True)
        chosen = split_names(sections)
        if chosen is not None:
            check_sections(chosen)
        model = _model_config(config_path, model_name)
        file_format(current)  # fail on a missing current file before the reference is read
        plan = ReadPlan(budget, chunk_rows)
        schema = plan.schema_for(
            reference, model.schema if model is not None else None, **column_roles(columns)
        )
        if model is None:
            _say_schema(schema, reference)
        check_current(current, schema)
        settings: dict[str, Any] = {
            "drift": model.drift if model is not None else None,
            "model": model_file or (model.model_file if model is not None else None),
            "memory_budget": budget,
            "chunk_rows": chunk_rows,
            "sections": chosen,
        }
        if workers is not None or scheduler is not None:
            from modelmon.engine.distributed import dask_report

            result = dask_report(reference, current, schema, workers=workers, scheduler=scheduler, **settings)
        else:
            result = build_report(reference, current, schema, progress=True, **settings)
        _check_rows(result, current)
        written = []
        if json_path is not None:
            written.append(result.save_json(json_path))
        if html_path is not None:
            written.append(result.save_html(html_path))
    except ModelmonError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    _summary(result, written)
    if workers is None and scheduler is None:  # a Dask cluster's exit hooks still run
        process.done()
