"""``modelmon targets upload``: ground truth that arrives after the predictions, joined to events by id."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from modelmon.cli import failure
from modelmon.config import load_config
from modelmon.errors import InputError, ModelmonError
from modelmon.store import open_store, redact_url

__all__ = ["detect_layout", "read_targets", "targets"]

REQUIRED = ("id", "target")


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def detect_layout(path: Path, target_column: str | None = None) -> tuple[str | None, str]:
    """How a targets CSV is laid out: ``(None, ...)`` for two columns without a header line (the
    old course's ``target.csv``: ``id,duration`` rows), else the header's name of the target column.

    >>> import tempfile
    >>> file = Path(tempfile.mkdtemp()) / "target.csv"
    >>> _ = file.write_text("a1,12.5\\nb2,7.25\\n")
    >>> detect_layout(file)
    (None, 'two columns id,target without a header line')
    """
    try:
        with path.open() as file:
            first = file.readline().strip()
    except OSError as exc:
        raise InputError(f"cannot read targets from {path}: {exc.strerror or exc}") from exc
    fields = [field.strip().strip('"') for field in first.split(",")]
    if len(fields) == 2 and "id" not in fields and (_number(fields[1]) or not fields[1]):
        return None, "two columns id,target without a header line"
    if target_column and "target" not in fields and target_column in fields and "id" in fields:
        return target_column, f"a header line, with the target in the model's column {target_column!r}"
    return "target", "a header line with columns id and target"


def read_targets(path: Path, target_column: str | None = None) -> pd.DataFrame:
    """The ``id`` and ``target`` columns of a CSV or parquet file; ids are read as strings.

    A CSV may also be two columns without a header (``id,target`` rows), or name the target by the
    model's target column (``target_column``); :func:`detect_layout` tells which.

    >>> import tempfile
    >>> file = Path(tempfile.mkdtemp()) / "late.csv"
    >>> _ = file.write_text("id,target,note\\n007,1.5,x\\n8,2.5,y\\n")
    >>> read_targets(file).to_dict("list")
    {'id': ['007', '8'], 'target': [1.5, 2.5]}
    """
    suffix = path.suffix.lower()
    try:
        if suffix in {".parquet", ".pq"}:
            import pyarrow.parquet as pq

            columns = pq.read_schema(path).names
            _check_columns(path, columns)
            frame = pd.read_parquet(path, columns=list(REQUIRED))
        elif suffix in {".csv", ".txt"}:
            target, _ = detect_layout(path, target_column)
            if target is None:
                frame = pd.read_csv(path, header=None, names=list(REQUIRED), dtype={"id": str})
            else:
                columns = pd.read_csv(path, nrows=0).columns.tolist()
                _check_columns(path, [("target" if name == target else name) for name in columns])
                frame = pd.read_csv(path, usecols=["id", target], dtype={"id": str})
                frame = frame.rename(columns={target: "target"})[list(REQUIRED)]
        else:
            raise InputError(
                f"{path}: unknown file type {suffix or '(none)'!r}; give a .csv or .parquet file"
            )
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"cannot read targets from {path}: {exc}") from exc
    frame["id"] = frame["id"].astype(str)
    return frame


def _check_columns(path: Path, columns: list[str]) -> None:
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise InputError(
            f"{path} has no column {', '.join(missing)}; it needs id and target (found: {columns}), "
            "or two columns id,target without a header line"
        )


@click.group()
def targets() -> None:
    """Ground truth (targets) that arrives after the predictions."""


@targets.command()
@click.option(
    "--config", "config_path", required=True, type=click.Path(dir_okay=False), help="Monitoring config."
)
@click.option("--model", required=True, help="Model whose events the targets belong to.")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def upload(config_path: str, model: str, file: Path) -> None:
    """Join late targets to stored events by id, from FILE (CSV or parquet with columns id,target).

    A CSV may also be two columns id,target without a header line (as Evidently-era senders wrote
    target.csv), or name the target by the model's target column; the layout read is printed.

    Rows without a target are skipped. Uploading an id again replaces its target; a target whose
    event is not stored yet is kept and applies when the event arrives.
    """
    try:
        config = load_config(config_path)
        target_column = config.model(model).schema.target
        frame = read_targets(file, target_column)
        if file.suffix.lower() in {".csv", ".txt"}:
            click.echo(f"read {file.name} as {detect_layout(file, target_column)[1]}")
        present = frame["target"].notna()
        pairs = zip(frame.loc[present, "id"].tolist(), frame.loc[present, "target"].tolist(), strict=True)
        with open_store(config.store) as store:
            written = store.events.upsert_targets(model, pairs)
    except ModelmonError as exc:
        raise failure(exc) from exc
    skipped = int((~present).sum())
    note = f" ({skipped} rows without a target skipped)" if skipped else ""
    click.echo(f"uploaded {written} targets of model {model!r} to {redact_url(config.store)}{note}")
