"""``modelmon demo-data``: write demo data, models and a ready config into a folder."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["demo_data"]


@click.command("demo-data")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write into (created if missing).",
)
@click.option(
    "--rows", default=20_000, show_default=True, type=click.IntRange(min=100), help="Rows per file."
)
@click.option(
    "--seed", default=0, show_default=True, type=int, help="Seed: the same seed writes the same files."
)
def demo_data(out_dir: Path, rows: int, seed: int) -> None:
    """Write demo reference/current data, trained models and DIR/modelmon.yml.

    Two models: taxi-duration (regression) and credit-approval (classification, sensitive attribute
    gender). Each has a reference file, a current file with incidents from its middle row on, and a
    clean current file to compare against.
    """
    from modelmon.demo.files import write_demo_files

    config = write_demo_files(out_dir, rows=rows, seed=seed)
    click.echo(f"wrote demo files and config {config}")
    click.echo(
        f"next: modelmon report {out_dir / 'taxi_reference.parquet'} {out_dir / 'taxi_current.parquet'} "
        f"--config {config} --model taxi-duration --html taxi_report.html"
    )
