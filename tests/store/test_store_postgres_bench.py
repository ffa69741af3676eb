"""The PostgreSQL row of bench/batch_store.py on tiny data: the events written, the targets uploaded
and the report read back from a real server match the same report from parquet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_batch_store_postgres_row_matches_parquet(
    postgres_schema_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    import bench.batch_store
    import bench.datasets
    import bench.full_report

    for module in (bench.datasets, bench.full_report, bench.batch_store):
        monkeypatch.setattr(module, "DATA_DIR", tmp_path)
    batch_store = bench.batch_store
    reference = batch_store.write_data(1000, train_rows=2000)[0]
    current = batch_store.write_data(3000, train_rows=2000)[1]
    assert batch_store.fill_store(postgres_schema_url, current, batch=1000) > 0
    batch_store.targets_child(postgres_schema_url, str(current))
    assert _last_json(capsys.readouterr().out)["written"] == 3000
    outputs = {}
    for source, data in (("store", postgres_schema_url), ("parquet", str(current))):
        batch_store.report_child(source, data, str(reference), chunk_rows=700)
        outputs[source] = _last_json(capsys.readouterr().out)
    assert outputs["store"]["rows"] == outputs["parquet"]["rows"] == 3000
    assert outputs["store"]["drifted"] == outputs["parquet"]["drifted"]
    assert outputs["store"]["mae"] == pytest.approx(outputs["parquet"]["mae"])


def _last_json(text: str) -> dict[str, object]:
    return json.loads([line for line in text.splitlines() if line.strip()][-1])
