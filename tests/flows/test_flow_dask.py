"""The batch flow with ``--workers 2``: sub-periods profiled by Prefect tasks on a local Dask cluster
(prefect-dask) give the report of the single-process run, up to the order floats are summed in."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from flow_demo import write_demo
from prefect_harness import PrefectServer

from modelmon.demo.files import TAXI_MODEL_NAME
from modelmon.flows.current import report_paths

pytestmark = [pytest.mark.integration, pytest.mark.slow]

pytest.importorskip("prefect")
pytest.importorskip("prefect_dask", reason="the dask extra is not installed")


def _close(left, right, where="report"):
    if isinstance(left, dict):
        assert set(left) == set(right), where
        for key in left:
            _close(left[key], right[key], f"{where}.{key}")
    elif isinstance(left, list):
        assert len(left) == len(right), where
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            _close(a, b, f"{where}[{i}]")
    elif isinstance(left, float) and not isinstance(right, bool):
        assert right == pytest.approx(left, rel=1e-9, abs=1e-12, nan_ok=True), where
    else:
        assert left == right, where


def test_batch_on_two_dask_workers_equals_one_process(prefect_server: PrefectServer, tmp_path):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from modelmon.cli.batch import batch

    demo = write_demo(tmp_path / "demo", rows=3000)
    start, end = demo.current_start, demo.current_end
    arguments = ["--config", str(demo.fast_config_path), "--model", TAXI_MODEL_NAME]
    arguments += ["--start", start.isoformat(), "--end", end.isoformat()]
    json_path, _ = report_paths(demo.config.reports_dir, TAXI_MODEL_NAME, start, end)
    with temporary_settings({PREFECT_API_URL: prefect_server.api_url}):
        single = CliRunner().invoke(batch, arguments)
        assert single.exit_code == 0, single.output
        alone = json.loads(json_path.read_text())
        spread = CliRunner().invoke(batch, [*arguments, "--workers", "2"])
        assert spread.exit_code == 0, spread.output
        on_dask = json.loads(json_path.read_text())
    for data in (alone, on_dask):
        data.pop("generated_at")
    assert on_dask["current_rows"] == 3000
    _close(alone, on_dask)
