"""Each benchmark script runs on tiny data (without Evidently) and its figures make sense."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The bench package importable, and its data written under ``tmp_path``."""
    monkeypatch.syspath_prepend(str(ROOT))
    import bench.batch_store
    import bench.datasets
    import bench.full_report
    import bench.profile_10m

    for module in (bench.datasets, bench.full_report, bench.batch_store, bench.profile_10m):
        monkeypatch.setattr(module, "DATA_DIR", tmp_path)
    return tmp_path


def last_json(text: str) -> dict[str, object]:
    return json.loads([line for line in text.splitlines() if line.strip()][-1])


def test_drift_vs_scipy_end_to_end(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import drift_vs_evidently

    # one modelmon variant is enough here (each runs in its own process); the others are tested in process
    bare = "modelmon drift section (column profiles)"
    monkeypatch.setattr(drift_vs_evidently, "MODELMON", {bare: drift_vs_evidently.MODELMON[bare]})
    table, detail = drift_vs_evidently.run(2000, with_evidently=False, repeat=2)
    # the command line, the one API variant kept and scipy
    assert len(table) == 3 and all(line.startswith("| 2,000 |") for line in table)
    assert drift_vs_evidently.COMMAND in table[0]
    assert len(detail) == 20
    # the five shifted columns drift for every tool, the others for none, and all tools agree
    drifted = [line.split(" | ")[1] for line in detail if "drift" in line.split(" | ")[3]]
    assert drifted == [f"num_0{i}" for i in range(5)]
    assert all(line.endswith("| yes |") for line in detail)


def test_modelmon_drift_parts_off_gives_the_same_decisions(data_dir: Path) -> None:
    from bench.datasets import paths

    from bench import modelmon_drift

    reference, current = (str(path) for path in paths(2000))
    bare = modelmon_drift.drift_only(reference, current, 500, parts=())
    assert bare == modelmon_drift.drift_only(reference, current, 500, parts=None)
    report = modelmon_drift.full_report(reference, current, 500)
    assert {name: c["detected"] for name, c in report.items()} == {
        name: c["detected"] for name, c in bare.items()
    }


def test_full_report_child_catches_the_incident(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench import full_report

    reference, current, _ = full_report.write_data(2000, train_rows=2000)
    page = data_dir / "full.html"
    full_report.child(str(reference), str(current), "none", "all", str(page))
    out = last_json(capsys.readouterr().out)
    assert "trip_distance" in out["drifted"] and "explain" not in out["sections"]  # type: ignore[operator]
    assert out["report_seconds"] > 0 and page.read_text().startswith("<!")  # type: ignore[operator]
    full_report.child(str(reference), str(current), "none", "performance", "none")
    alone = last_json(capsys.readouterr().out)
    assert "performance" in alone["sections"] and "drift" not in alone["sections"]  # type: ignore[operator]


def test_full_report_guards_every_section() -> None:
    from bench import full_report
    from modelmon.engine.sections import section_names

    assert set(full_report.SECTION_GUARDS) == set(section_names())


def test_batch_store_report_matches_parquet(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench import batch_store

    reference = batch_store.write_data(1000, train_rows=2000)[0]
    current = batch_store.write_data(3000, train_rows=2000)[1]
    database, _ = batch_store.write_store(current, 3000, batch=1000)
    batch_store.targets_child(str(database), str(current))
    assert last_json(capsys.readouterr().out)["written"] == 3000
    outputs = {}
    for source, data in (("store", database), ("parquet", current)):
        batch_store.report_child(source, str(data), str(reference), chunk_rows=700)
        outputs[source] = last_json(capsys.readouterr().out)
    assert outputs["store"]["rows"] == outputs["parquet"]["rows"] == 3000
    assert outputs["store"]["drifted"] == outputs["parquet"]["drifted"]
    assert outputs["store"]["mae"] == pytest.approx(outputs["parquet"]["mae"])


def test_online_paths_on_a_small_service(data_dir: Path, tmp_path: Path) -> None:
    from bench import online
    from modelmon.demo.files import write_demo_files

    config = write_demo_files(tmp_path / "demo", rows=1000)
    port = online.free_port()
    service = online.start_service(config, port)
    try:
        events = online.demo_events(config.parent, 1000)
        lines = online.ingest(port, service.pid, events, requests=100, mode="group")
        lines += online.added_latency(config.parent, f"http://127.0.0.1:{port}", requests=50)
    finally:
        online.stop_service(service)
    assert service.returncode is not None
    lines += online.recompute_times(config, [100, 400], repeats=2)
    assert sum("events/s" in line for line in lines) == 2 and sum("requests/s" in line for line in lines) == 2
    assert "median +" in lines[-4] and "x** | <= 2x |" in lines[-1]


def test_profile_10m_child_on_small_data(data_dir: Path) -> None:
    import pyarrow.parquet as pq

    from bench import profile_10m

    reference, _ = profile_10m.paths(2000)
    current = profile_10m.write_big(3000, chunk=1000)
    assert pq.ParquetFile(current).metadata.num_row_groups == 3
    # its return value, not its printed line: output captured from a child function run in this
    # process was lost once in a full run (after the tests that start services and threads)
    out = profile_10m.profile(str(reference), str(current))
    assert out["rows"] == 3000 and out["drifted"] == 5


def test_drift_stages_account_for_every_stage(data_dir: Path) -> None:
    from bench.datasets import paths

    from bench import drift_stages

    reference, current = (str(path) for path in paths(2000))
    stages = drift_stages.stages(reference, current, chunk_rows=500)
    assert [name.split()[0] for name, *_ in stages] == ["read", "fit", "read", "profile", "drift"]
    assert all(seconds >= 0 and 0 < rss <= peak for _, seconds, rss, peak in stages)


def test_cells_lookup_checks_every_shape_against_the_search(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench import cells_lookup

    monkeypatch.setattr("sys.argv", ["cells_lookup", "--rows", "5000"])
    cells_lookup.main()  # exits with an error if any way gives other cells than the search
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "x |" in line]
    assert len(rows) == len(cells_lookup.SHAPES)
    slots = {line.split(" | ")[0][2:]: line.split(" | ")[7] for line in rows}
    assert slots["normal(10, 1)"] == "value" and slots["Pareto(1) (heavy tail)"] == "float bits"


def test_parquet_footer_grows_with_the_row_groups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    import pandas as pd

    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.chdir(ROOT)
    import bench.parquet_footer

    frame = pd.DataFrame({f"c{i}": range(4_000) for i in range(50)})
    few, many = tmp_path / "few.parquet", tmp_path / "many.parquet"
    frame.to_parquet(few, row_group_size=4_000)
    frame.to_parquet(many, row_group_size=100)
    monkeypatch.setattr("sys.argv", ["parquet_footer", str(few), str(many)])
    bench.parquet_footer.main()
    rows = [line.split("|") for line in capsys.readouterr().out.splitlines()[2:]]
    groups = [int(row[2]) for row in rows]
    footers = [float(row[4]) for row in rows]
    assert groups == [1, 40]
    assert footers[1] > 10 * footers[0]


def test_versions_runs_each_commit_from_its_own_worktree_and_removes_them() -> None:
    import subprocess
    import sys

    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode:
        pytest.skip("not a git checkout: bench.versions compares commits")
    commit = head.stdout.strip()  # the same commit by two names: two worktrees, a row each
    before = _worktrees()
    command = [sys.executable, "-m", "bench.versions", "HEAD", commit, "--runs", "2", "--", "--version"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    rows = [line for line in done.stdout.splitlines() if line.startswith("| HEAD") or commit in line]
    assert [row.split(" | ")[0] for row in rows] == ["| HEAD", f"| {commit}"]
    assert all(float(row.split(" | ")[1]) > 0 for row in rows)  # the median wall time of two runs
    # its worktrees are folders v0, v1, ... of its own temporary folder; others may come and go meanwhile
    left = [path for path in _worktrees() - before if re.fullmatch(r"v\d+", Path(path).name)]
    assert not left, f"bench.versions left its worktrees: {left}"


def _worktrees() -> set[str]:
    import subprocess

    command = ["git", "-C", str(ROOT), "worktree", "list", "--porcelain"]
    listed = subprocess.run(command, capture_output=True, text=True, check=True)
    return {line.split(" ", 1)[1] for line in listed.stdout.splitlines() if line.startswith("worktree ")}


def test_window_memory_child_holds_at_most_the_cap_of_records_waiting_for_a_target(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setattr("modelmon.config.MAX_AWAITING_TARGET", 1_000)
    from bench.window_memory import _child

    # 3,000 events at 100/s fit a window of 10 minutes: every row stays, a third of them wait
    figures = _child(600, 100, 3_000)
    assert figures["window_rows"] == 3_000
    assert figures["awaiting_target"] == 1_000
    assert figures["rss_mib"] > 0


def test_footer_survey_stand_in_has_the_row_groups_and_columns(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from bench import footer_survey

    metadata = pq.ParquetFile(footer_survey.stand_in(tmp_path / "f.parquet", 7, 30)).metadata
    assert (metadata.num_row_groups, metadata.num_columns, metadata.num_rows) == (7, 30, 70)


def test_full_report_child_times_each_sections_own_work(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench import full_report

    reference, current, model = full_report.write_data(2000, train_rows=2000)
    full_report.child(str(reference), str(current), str(model), "outliers", "none")
    out = last_json(capsys.readouterr().out)
    own = out["section_cpu_seconds"]
    assert set(own) == set(full_report.SECTION_GUARDS)  # type: ignore[arg-type]
    # the outlier section alone fits and scores its forest; the others did no work of their own
    assert own["outliers"] > 0 and own["explain"] == own["multivariate"] == 0  # type: ignore[index]
    assert 0 < own["outliers"] <= out["report_cpu_seconds"]  # type: ignore[index,operator]
    import modelmon.sections as registry
    from modelmon.engine.outliers import OutlierCounts

    # the timers are gone afterwards: the registry and the parts are as they were
    assert all(section.compute.__name__ != "timed" for section in registry.REGISTRY)
    assert "timed" not in repr(OutlierCounts.__dict__["build"])
