"""``modelmon report``: compare a current dataset with a reference and write JSON and HTML reports."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from modelmon.errors import ConfigError, ModelmonError

__all__ = ["report"]

#: string columns with a distinct value on every row (ids) are not inferred as features
_ID_LIKE_MIN_ROWS = 20


def _names(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(name.strip() for name in value.split(",") if name.strip())


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


def _id_like(frame: Any) -> list[str]:
    import pandas as pd

    if len(frame) < _ID_LIKE_MIN_ROWS:
        return []
    return [
        str(name)
        for name in frame.columns
        if not pd.api.types.is_numeric_dtype(frame[name]) and frame[name].nunique() == len(frame)
    ]


def _schema(reference: Any, model: Any, options: dict[str, Any]) -> Any:
    """The config model's schema, else one inferred from the reference; options override either."""
    from modelmon.schema import Schema

    numerical, categorical = options.pop("numerical"), options.pop("categorical")
    if model is not None:
        schema = model.schema.with_overrides(**options)
    else:
        exclude = [name for name in (options.get("id"), options.get("timestamp")) if name]
        exclude += [name for name in _id_like(reference) if name not in exclude]
        roles = {key: value for key, value in options.items() if key not in ("prediction", "target", "task")}
        schema = Schema.infer(
            reference,
            prediction=options["prediction"],
            target=options["target"],
            task=options["task"],
            exclude=exclude,
            **roles,
        )
    if numerical is not None or categorical is not None:
        schema = schema.with_overrides(numerical=numerical or (), categorical=categorical or ())
    return schema


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}"


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
        verdict = "[bold red]DRIFT[/]" if drift["dataset_drift"] else "[bold green]no drift[/]"
        tested = drift.get("tested_features", len(drift["columns"]))
        console.print(
            f"Dataset drift: {verdict} ({drift['drifted_count']} of {tested} tested features, "
            f"share {_number(drift['drifted_share'])}, threshold {_number(drift['share_threshold'])})"
        )
        from modelmon.render.html import drift_severity

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
@click.option("--numerical", help="Numerical feature columns, comma separated.")
@click.option("--categorical", help="Categorical feature columns, comma separated.")
@click.option("--prediction", help="Prediction column.")
@click.option("--target", help="Target (ground truth) column.")
@click.option("--segments", help="Columns whose values define segments, comma separated.")
@click.option("--sensitive", help="Sensitive attribute columns (fairness), comma separated.")
@click.option("--id", "id_column", help="Row id column (not a feature).")
@click.option("--timestamp", help="Timestamp column (not a feature; orders the error stream).")
@click.option("--task", type=click.Choice(["regression", "classification"]), help="Model task.")
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
    "--chunk-rows",
    default=200_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Rows read at a time.",
)
def report(
    reference: Path,
    current: Path,
    config_path: Path | None,
    model_name: str | None,
    numerical: str | None,
    categorical: str | None,
    prediction: str | None,
    target: str | None,
    segments: str | None,
    sensitive: str | None,
    id_column: str | None,
    timestamp: str | None,
    task: str | None,
    model_file: Path | None,
    json_path: Path | None,
    html_path: Path | None,
    sections: str | None,
    chunk_rows: int,
) -> None:
    """Compare CURRENT with REFERENCE (parquet or CSV files): drift, data quality and model health.

    The schema comes from the config's model (--config, --model), else it is inferred from the
    reference; the column options override either.
    """
    try:
        from modelmon.engine.build import ReferenceSide, build_report
        from modelmon.engine.sections import check_sections
        from modelmon.io import file_format, read_frame

        chosen = _names(sections)
        if chosen is not None:
            check_sections(chosen)
        model = _model_config(config_path, model_name)
        file_format(current)  # fail on a missing current file before the reference is read
        reference_frame = read_frame(reference)
        options = {
            "numerical": _names(numerical),
            "categorical": _names(categorical),
            "prediction": prediction,
            "target": target,
            "segments": _names(segments),
            "sensitive": _names(sensitive),
            "id": id_column,
            "timestamp": timestamp,
            "task": task,
        }
        schema = _schema(reference_frame, model, options)
        if model is None:  # said before the long part, so a wrong guess can be corrected at once
            inferred = "\n".join(f"  {line}" for line in schema.to_config_text().splitlines())
            click.echo(
                f"Inferred schema (correct it with --numerical, --categorical, ... or a config):\n{inferred}",
                err=True,
            )
        fitted = ReferenceSide.fit(reference_frame, schema, sections=chosen)
        del reference_frame  # the current rows are profiled without the reference's rows in memory
        result = build_report(
            fitted,
            current,
            drift=model.drift if model is not None else None,
            model=model_file or (model.model_file if model is not None else None),
            chunk_rows=chunk_rows,
            sections=chosen,
            progress=True,
        )
        written = []
        if json_path is not None:
            written.append(result.save_json(json_path))
        if html_path is not None:
            written.append(result.save_html(html_path))
    except ModelmonError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    _summary(result, written)
