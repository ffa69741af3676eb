"""``modelmon targets upload``: ground truth that arrives after the predictions, joined to events by id."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from modelmon.config import load_config
from modelmon.errors import InputError, ModelmonError
from modelmon.store import open_store, redact_url

__all__ = ["read_targets", "targets"]

REQUIRED = ("id", "target")


def read_targets(path: Path) -> pd.DataFrame:
    """The ``id`` and ``target`` columns of a CSV or parquet file; ids are read as strings.

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
            columns = pd.read_csv(path, nrows=0).columns.tolist()
            _check_columns(path, columns)
            frame = pd.read_csv(path, usecols=list(REQUIRED), dtype={"id": str})
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
            f"{path} has no column {', '.join(missing)}; it needs id and target (found: {columns})"
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

    Rows without a target are skipped. Uploading an id again replaces its target; a target whose
    event is not stored yet is kept and applies when the event arrives.
    """
    try:
        config = load_config(config_path)
        config.model(model)
        frame = read_targets(file)
        present = frame["target"].notna()
        pairs = zip(frame.loc[present, "id"].tolist(), frame.loc[present, "target"].tolist(), strict=True)
        with open_store(config.store) as store:
            written = store.events.upsert_targets(model, pairs)
    except ModelmonError as exc:
        raise click.ClickException(str(exc)) from exc
    skipped = int((~present).sum())
    note = f" ({skipped} rows without a target skipped)" if skipped else ""
    click.echo(f"uploaded {written} targets of model {model!r} to {redact_url(config.store)}{note}")
