"""The batch flow end to end against a real Prefect server, on demo data that went through the
monitoring service into a SQLite store: one run finds the injected incident and a control period
flags nothing, a backfill writes one report per period, store errors are retried, and a schedule
served by ``modelmon schedule`` fires and lands its report in the store."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from flow_demo import Demo, taxi_events, write_demo
from prefect_harness import PrefectServer, die_with_parent, stop_process

from modelmon.demo.files import TAXI_MODEL_NAME
from modelmon.errors import StoreError
from modelmon.store import open_store

pytestmark = pytest.mark.integration

prefect = pytest.importorskip("prefect")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Demo:
    return write_demo(tmp_path_factory.mktemp("demo"), rows=3000)


@pytest.fixture
def prefect_api(prefect_server: PrefectServer):
    """Flows run in this process report to the test's server."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_ANALYTICS_ENABLED, temporary_settings

    with temporary_settings(
        {PREFECT_API_URL: prefect_server.api_url, PREFECT_SERVER_ANALYTICS_ENABLED: False}
    ):
        yield prefect_server.api_url
        # send what Prefect still holds for the server before it goes away
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=10)
        EventsWorker.drain_all(timeout=10)


def _iso(moment: pd.Timestamp) -> str:
    return moment.isoformat()


def _batch(demo: Demo, start: pd.Timestamp, end: pd.Timestamp, explain: bool = False) -> str:
    from modelmon.cli.batch import batch

    config = demo.config_path if explain else demo.fast_config_path
    arguments = ["--config", str(config), "--model", TAXI_MODEL_NAME]
    result = CliRunner().invoke(batch, [*arguments, "--start", _iso(start), "--end", _iso(end)])
    assert result.exit_code == 0, result.output
    return result.output


def _report_for(demo: Demo, start: pd.Timestamp, end: pd.Timestamp) -> dict:
    with open_store(demo.config.store) as store:
        entries = [
            entry
            for entry in store.reports.list_reports(TAXI_MODEL_NAME, limit=100)
            if pd.Timestamp(entry["start"]) == start and pd.Timestamp(entry["end"]) == end
        ]
        assert len(entries) == 1, entries
        return store.reports.get_report(entries[0]["id"])


@pytest.mark.slow
def test_batch_report_finds_the_injected_incident_and_a_control_period_flags_nothing(demo, prefect_api):
    incident = (demo.incident_start, demo.current_end)
    control = (demo.current_start, demo.incident_start)
    output = _batch(demo, *incident, explain=True)
    assert "1500 events" in output
    _batch(demo, *control)

    stored = _report_for(demo, *incident)
    report = stored["report"]
    drift = report["drift"]["columns"]
    assert drift["trip_distance"]["detected"], "the covariate shift on trip_distance is found"
    assert report["quality"]["columns"]["fare_amount"]["missing_share"] == pytest.approx(0.3, abs=0.05)
    assert report["performance"]["current"]["mae"] > 1.5 * report["performance"]["reference"]["mae"]
    assert report["current_rows"] == 1500 and report["model"] == TAXI_MODEL_NAME
    assert report["explain"]["applicable"], "the config names a model file: SHAP values are in the report"

    json_path = Path(stored["html_path"]).with_suffix(".json")
    assert json_path.parent == demo.config.reports_dir / TAXI_MODEL_NAME
    assert json_path.name == "20260101T011500Z_20260101T014000Z.json"
    assert json.loads(json_path.read_text())["drift"]["columns"]["trip_distance"]["detected"]
    assert Path(stored["html_path"]).read_text().lstrip().lower().startswith("<!doctype html")

    clean = _report_for(demo, *control)["report"]
    assert clean["current_rows"] == 1500
    assert not clean["drift"]["dataset_drift"]
    assert [name for name, info in clean["drift"]["columns"].items() if info["detected"]] == []
    assert clean["quality"]["columns"]["fare_amount"]["missing_share"] == 0

    with open_store(demo.config.store) as store:
        history = store.metrics.history(
            TAXI_MODEL_NAME, ["batch.drift_score.trip_distance", "batch.metric.mae"]
        )
    scores = dict(history["batch.drift_score.trip_distance"])
    assert scores[incident[1].to_pydatetime()] > 0.1 > scores[control[1].to_pydatetime()]
    assert len(history["batch.metric.mae"]) >= 2

    cache = list((demo.config.reports_dir / ".cache").glob(f"reference-{TAXI_MODEL_NAME}-*.pkl"))
    assert len(cache) == 1, "the fitted reference is cached for the next runs"


@pytest.mark.slow
def test_backfill_writes_one_report_per_period(demo, prefect_api):
    from modelmon.cli.batch import backfill

    arguments = ["--config", str(demo.fast_config_path), "--model", TAXI_MODEL_NAME, "--every", "20m"]
    start, end = _iso(demo.current_start), "2026-01-01T01:40:00Z"
    result = CliRunner().invoke(backfill, [*arguments, "--start", start, "--end", end])
    assert result.exit_code == 0, result.output
    assert "backfilled 3 periods" in result.output
    bounds = [("00:50", "01:10"), ("01:10", "01:30"), ("01:30", "01:40")]
    rows = []
    for first, last in bounds:
        stored = _report_for(demo, pd.Timestamp(f"2026-01-01T{first}Z"), pd.Timestamp(f"2026-01-01T{last}Z"))
        assert Path(stored["html_path"]).is_file()
        rows.append(stored["report"]["current_rows"])
    assert rows == [1200, 1200, 600]


def test_store_errors_are_retried(demo, prefect_api, monkeypatch):
    import modelmon.flows.batch as batch_flow

    calls = []
    real_open_store = batch_flow.open_store

    def flaky_open_store(url):
        calls.append(url)
        if len(calls) == 1:
            raise StoreError("database is locked (injected by the test)")
        return real_open_store(url)

    monkeypatch.setattr(batch_flow, "open_store", flaky_open_store)
    result = batch_flow.batch_report(
        str(demo.fast_config_path), TAXI_MODEL_NAME, start=datetime(2026, 1, 1, 1, 0, tzinfo=UTC),
        end=datetime(2026, 1, 1, 1, 5, tzinfo=UTC),
    )  # fmt: skip
    assert result["current_rows"] == 300 and result["report_id"] is not None
    assert len(calls) == 4, "profile-events ran twice, then store-report and push-metrics once each"


def test_a_period_without_events_writes_no_report(demo, prefect_api):
    from modelmon.cli.batch import batch

    arguments = ["--config", str(demo.fast_config_path), "--model", "credit-approval", "--since", "1h"]
    result = CliRunner().invoke(batch, arguments)
    assert result.exit_code == 0, result.output
    assert "credit-approval" in result.output and "no events, no report" in result.output
    with open_store(demo.config.store) as store:
        assert store.reports.list_reports("credit-approval") == []
        assert [value for _, value in store.metrics.history("credit-approval")["batch.current_rows"]] == [0.0]


def test_an_error_inside_the_flow_exits_2_with_its_message(demo, prefect_api, tmp_path):
    from modelmon.cli.batch import batch

    config = yaml.safe_load(demo.fast_config_path.read_text())
    taxi = config["models"][TAXI_MODEL_NAME]
    # a damaged reference: its header has every column (the command's check before Prefect starts
    # passes) but its last row opens a quote it never closes, so reading it inside the flow fails
    damaged = tmp_path / "damaged.csv"
    rows = pd.read_parquet(demo.config.model(TAXI_MODEL_NAME).reference).head(50)
    damaged.write_text(rows.to_csv(index=False) + '"cut off\n')
    taxi["reference"] = str(damaged)
    config["reports_dir"] = str(tmp_path / "reports")
    config_path = tmp_path / "wrong.yml"
    config_path.write_text(yaml.safe_dump(config))
    arguments = ["--config", str(config_path), "--model", TAXI_MODEL_NAME, "--since", "1h"]
    result = CliRunner().invoke(batch, arguments)
    assert result.exit_code == 2, result.output
    assert "damaged.csv: cannot read it as csv" in result.output, result.output


@pytest.mark.slow
def test_a_scheduled_run_fires_and_its_report_lands_in_the_store(demo, prefect_server, tmp_path):
    now = datetime.now(UTC)
    clean = pd.read_parquet(demo.folder / "taxi_current_clean.parquet").head(200)
    live = taxi_events(clean.assign(pickup_time=pd.Timestamp(now).tz_localize(None)), demo.features)
    with open_store(demo.config.store) as store:
        store.events.add_events(TAXI_MODEL_NAME, live)
        before = {entry["id"] for entry in store.reports.list_reports(TAXI_MODEL_NAME, limit=1000)}

    command = [sys.executable, "-c", "from modelmon.cli import main; main()", "schedule"]
    config = ["--config", str(demo.fast_config_path), "--model", TAXI_MODEL_NAME]
    command += [*config, "--every", "10s", "--period", "1h"]
    log = tmp_path / "schedule.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=prefect_server.environment(), cwd=tmp_path, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=die_with_parent,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        fresh: list[dict] = []
        while time.monotonic() < deadline and not fresh and process.poll() is None:
            time.sleep(2)
            with open_store(demo.config.store) as store:
                fresh = [
                    e
                    for e in store.reports.list_reports(TAXI_MODEL_NAME, limit=1000)
                    if e["id"] not in before
                ]
        assert fresh, f"no scheduled report landed; `modelmon schedule` said:\n{log.read_text()[-4000:]}"
    finally:
        stop_process(process)
    assert process.returncode is not None
    report = fresh[0]
    assert report["current_rows"] == 200
    assert pd.Timestamp(report["end"]) - pd.Timestamp(report["start"]) == pd.Timedelta(hours=1)
    assert abs(pd.Timestamp(report["end"]) - pd.Timestamp(now)) < pd.Timedelta(minutes=5)
    said = log.read_text()
    assert "taxi-duration-batch" in said
    assert "serving batch reports of taxi-duration (every 10s, each on the last 1h); Ctrl-C stops" in said


def test_checks_are_stored_with_the_report_and_a_failed_one_fails_the_run(demo, prefect_api):
    import modelmon.flows.batch as batch_flow
    from modelmon.errors import ChecksFailed

    conditions = ["drift.columns.trip_distance.detected == false", "current_rows >= 100"]
    # halves of the other tests' periods, so that each period has one stored report
    control = (demo.current_start, demo.current_start + (demo.incident_start - demo.current_start) / 2)
    passed = batch_flow.batch_report(
        str(demo.fast_config_path), TAXI_MODEL_NAME, start=control[0].to_pydatetime(),
        end=control[1].to_pydatetime(), checks=conditions,
    )  # fmt: skip
    assert passed["report_id"] is not None
    incident = (demo.incident_start, demo.incident_start + (demo.current_end - demo.incident_start) / 2)
    with pytest.raises(ChecksFailed, match=r"1 of 2 checks failed: drift\.columns\.trip_distance\.detected"):
        batch_flow.batch_report(
            str(demo.fast_config_path), TAXI_MODEL_NAME, start=incident[0].to_pydatetime(),
            end=incident[1].to_pydatetime(), checks=conditions,
        )  # fmt: skip
    stored = _report_for(demo, *incident)["report"]["checks"]
    assert stored["passed"] is False and [c["passed"] for c in stored["checks"]] == [False, True]
    assert _report_for(demo, *control)["report"]["checks"]["passed"] is True


def test_batch_command_checks_exit_1_when_one_fails(demo, prefect_api, tmp_path):
    from modelmon.cli.batch import batch

    conditions = tmp_path / "conditions.yml"
    conditions.write_text("- drift.columns.trip_distance.detected == false\n")
    # the second half of the incident period: a period no other test stores a report for
    start = demo.incident_start + (demo.current_end - demo.incident_start) / 2
    arguments = [
        "--config",
        str(demo.fast_config_path),
        "--model",
        TAXI_MODEL_NAME,
        "--checks",
        str(conditions),
    ]
    result = CliRunner().invoke(batch, [*arguments, "--start", _iso(start), "--end", _iso(demo.current_end)])
    assert result.exit_code == 1, result.output
    assert "1 of 1 checks failed: drift.columns.trip_distance.detected == false" in result.output
    assert _report_for(demo, start, demo.current_end)["report"]["checks"]["passed"] is False
