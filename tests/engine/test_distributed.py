"""Reports on a real local Dask cluster equal the single-process report (up to float summation order)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from modelmon.engine.build import build_report
from modelmon.schema import Schema

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")

SCHEMA = Schema(
    numerical=["fare", "passengers", "tip"],
    categorical=["zone"],
    prediction="duration",
    target="actual",
    timestamp="time",
)
#: small enough that the reference is fitted from a sample (12,000 rows > the 10,000-row sample)
BUDGET = 1 << 20


def _frame(rows: int, seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "time": pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(rows), unit="s"),
            "fare": rng.normal(20 + shift, 4, rows),
            "passengers": rng.integers(1, 6, rows).astype(float),  # few values: exact edges
            "tip": rng.lognormal(0.5 + shift / 10, 0.7, rows),
            "zone": rng.choice(["a", "b", "c", "d"], rows),
            "duration": rng.normal(15, 3, rows),
            "actual": rng.normal(15 + shift, 3, rows),
        }
    )
    frame.loc[frame.index[::17], "fare"] = np.nan
    return frame


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dask")
    reference, current = folder / "reference.parquet", folder / "current.parquet"
    _frame(12_000, 1, 0.0).to_parquet(reference, row_group_size=700)
    _frame(9_000, 2, 1.5).to_parquet(current, row_group_size=500)
    return reference, current


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
    ) as local:
        yield local


def _close(left, right, where="report"):
    if isinstance(left, dict):
        assert set(left) == set(right), where
        for key in left:
            _close(left[key], right[key], f"{where}.{key}")
    elif isinstance(left, list | tuple):
        assert len(left) == len(right), where
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            _close(a, b, f"{where}[{i}]")
    elif isinstance(left, float) and not isinstance(right, bool):
        assert right == pytest.approx(left, rel=1e-9, abs=1e-12, nan_ok=True), where
    else:
        assert left == right, where


def _plain(report) -> dict:
    data = json.loads(json.dumps(report.to_dict(), default=str))
    data.pop("generated_at")
    return data


@pytest.mark.slow
@pytest.mark.parametrize("budget", [BUDGET, 64 << 20], ids=["reference sketched", "reference held"])
def test_report_on_two_workers_equals_one_process(files, cluster, budget):
    from modelmon.engine.distributed import dask_report
    from modelmon.engine.sides import fits_in_memory, reference_bytes

    reference, current = files
    sections = ("drift", "quality", "performance", "segments", "concept")
    size = reference_bytes(reference, list(SCHEMA.named_columns))
    assert fits_in_memory(size, budget, sections) == (budget > BUDGET)
    alone = build_report(reference, current, SCHEMA, memory_budget=budget, chunk_rows=800, sections=sections)
    spread = dask_report(
        reference,
        current,
        SCHEMA,
        scheduler=cluster.scheduler_address,
        memory_budget=budget,
        chunk_rows=800,
        sections=sections,
    )
    # the profiles: the same edges (fitted from the same sample), the same counts in every cell
    assert alone.reference_profile.spec.fingerprint == spread.reference_profile.spec.fingerprint
    assert not alone.reference_profile.spec.exact["fare"] and alone.reference_profile.spec.exact["passengers"]
    for profile in ("reference_profile", "current_profile"):
        ours, theirs = getattr(alone, profile), getattr(spread, profile)
        for name, column in ours.columns.items():
            if hasattr(column, "cell_counts"):
                assert column.cell_counts.tolist() == theirs.columns[name].cell_counts.tolist(), name
    _close(_plain(alone), _plain(spread))
    assert spread.current_rows == 9_000 and spread.sections["drift"]["columns"]["fare"]["detected"]


@pytest.mark.slow
def test_report_command_with_local_workers(files, tmp_path):
    from modelmon.cli.report import report

    reference, current = files
    out, alone = tmp_path / "dask.json", tmp_path / "alone.json"
    common = [str(reference), str(current), "--sections", "drift,quality", "--memory-budget", "1MiB"]
    common += ["--numerical", "fare,passengers,tip", "--categorical", "zone", "--prediction", "duration"]
    runner = CliRunner()
    result = runner.invoke(report, [*common, "--workers", "2", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert runner.invoke(report, [*common, "--json", str(alone)]).exit_code == 0
    spread, single = json.loads(out.read_text()), json.loads(alone.read_text())
    for data in (spread, single):
        data.pop("generated_at")
    _close(single, spread)


def test_workers_and_scheduler_together_is_a_usage_error(files):
    from modelmon.cli.report import report

    reference, current = files
    result = CliRunner().invoke(
        report, [str(reference), str(current), "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"]
    )
    assert result.exit_code == 2
    assert "give one of them" in result.output
