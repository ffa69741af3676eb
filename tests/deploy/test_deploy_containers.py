"""The container check: the repository's Dockerfile built, the compose stack run under podman, end to end.

Run by ``make test-containers`` (root, podman; see tests/deploy/container_stack.py), skipped by the
ordinary test run. MongoDB and Grafana have no image on these machines: the stack runs without them,
with PostgreSQL as the store; the compose file still carries them (validated by test_deploy_compose.py)
and Grafana's panel queries are asked of the stack's Prometheus directly.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from container_stack import (
    BASES,
    LOCAL_IMAGES,
    MODELMON_IMAGES,
    REPO,
    STATE,
    ContainerError,
    Stack,
    build,
    ensure_base_images,
    http,
    image_bytes,
    podman,
    podman_environment,
    prometheus_query,
    start_failure,
    wait_until,
)
from prometheus_harness import DEPLOY, RULES, dashboard_queries, expand, shorten_for

from integration_support import free_port, need

if os.environ.get("MODELMON_CONTAINER_CHECK") != "1":
    pytest.skip(
        "the container check runs with `make test-containers` (root, podman)", allow_module_level=True
    )

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MODELS = ("taxi-duration", "credit-approval")
#: the services of the image, run as uid 10001 on a read-only root filesystem
MODELMON_SERVICES = ("demo-data", "monitoring", "prediction", "prefect-server", "batch", "traffic")
LONG_RUNNING = ("postgres", "monitoring", "prefect-server", "alertmanager", "prediction", "prometheus")
PORTS = ("monitoring", "prediction", "prometheus", "alertmanager", "grafana", "prefect", "mongodb")


def _prometheus_files(folder: Path) -> None:
    """The shipped Prometheus config and rules, scraping and evaluating every 2 s, ``for:`` at 10 s."""
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "2s", "evaluation_interval": "2s"}
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    (folder / "rules").mkdir()
    for path in sorted(RULES.glob("*.yml")):
        (folder / "rules" / path.name).write_text(shorten_for(path.read_text(), "10s"))


class Check:
    """The running stack and how the test reaches it from loopback."""

    def __init__(self, stack: Stack, ports: dict[str, int], token: str, read_token: str) -> None:
        self.stack = stack
        self.token = token
        self.read_token = read_token
        self.url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}

    def monitoring(self, path: str, body: Any = None, token: str | None = "write") -> tuple[int, Any]:
        chosen = {"write": self.token, "read": self.read_token, None: None}[token]
        status, _, text = http(f"{self.url['monitoring']}{path}", chosen, body, timeout=30)
        return status, json.loads(text) if text[:1] in (b"{", b"[") else text

    def query(self, expr: str) -> list[dict[str, Any]]:
        return prometheus_query(self.url["prometheus"], expr)


@pytest.fixture(scope="module")
def check() -> Iterator[Check]:
    need(os.geteuid() == 0, "the container check runs rootful podman: run it as root")
    compose = STATE / "compose-venv" / "bin" / "podman-compose"
    need(
        shutil.which("podman") is not None and compose.exists(),
        "podman and podman-compose (.ci/container-deps)",
    )
    # a podman that cannot even start (no kernel support, a broken runtime) is named, never passed over
    failure = start_failure()
    need(failure is None, f"podman cannot start here: {failure}")
    timings: dict[str, float] = {}
    started = time.monotonic()
    ensure_base_images()
    timings["base images"] = time.monotonic() - started
    failure = start_failure(BASES[0])
    need(failure is None, f"podman cannot run a container here: {failure}")
    images = Path(__file__).parent / "containers"

    def build_local_images() -> dict[str, float]:
        return {
            f"{name} image build": build(tag, images / f"{name}.Containerfile", images)
            for name, tag in LOCAL_IMAGES.items()
        }

    # Debian's packages download while the project's images build: each mostly waits on something else
    with ThreadPoolExecutor(max_workers=1) as pool:
        local = pool.submit(build_local_images)
        for target, tag in MODELMON_IMAGES.items():
            timings[f"modelmon {target} image build"] = build(tag, REPO / "Dockerfile", REPO, target)
        timings.update(local.result())
    for target, tag in MODELMON_IMAGES.items():
        print(f"\nmodelmon {target} image: {image_bytes(tag) / 1e6:.0f} MB", end="")
    print()
    folder = Path(tempfile.mkdtemp(prefix="check-", dir=STATE))
    folder.chmod(0o755)
    token, read_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    (folder / "secrets").mkdir(mode=0o755)
    # the read token Prometheus scrapes with, the write token Alertmanager's webhook sends
    for name, value in (("modelmon-read-token", read_token), ("modelmon-token", token)):
        (folder / "secrets" / name).write_text(value + "\n")
        (folder / "secrets" / name).chmod(0o644)
    _prometheus_files(folder)
    ports = {name: free_port() for name in PORTS}
    environment = {
        "MODELMON_TOKEN": token,
        "POSTGRES_PASSWORD": secrets.token_hex(12),
        "GRAFANA_ADMIN_PASSWORD": "no-grafana-in-the-check",
        "MODELMON_IMAGE": MODELMON_IMAGES["service"],
        "MODELMON_BATCH_IMAGE": MODELMON_IMAGES["batch"],
        "PREFECT_UI_API_URL": f"http://127.0.0.1:{ports['prefect']}/api",
        **{f"{name.upper()}_PORT": str(port) for name, port in ports.items()},
    }
    stack = Stack(folder, environment)
    stack.down()  # what an interrupted run left
    try:
        phase = time.monotonic()
        stack.up("postgres", "demo-data")
        stack.wait_exited("demo-data", timeout=600)
        stack.wait_healthy(["postgres"])
        stack.up("monitoring", "prefect-server", "alertmanager")
        stack.wait_healthy(["monitoring", "prefect-server", "alertmanager"])
        stack.up("prediction", "prometheus", "batch")
        stack.wait_healthy(["prediction", "prometheus"])
        stack.up("traffic")
        timings["stack up and healthy"] = time.monotonic() - phase
        print("".join(f"{name}: {seconds:.0f}s\n" for name, seconds in timings.items()), end="")
        yield Check(stack, ports, token, read_token)
    finally:
        stack.down()
        shutil.rmtree(folder, ignore_errors=True)


def test_every_container_reports_healthy(check: Check) -> None:
    stack = check.stack
    running = stack.containers()
    assert "mongodb" not in running and "grafana" not in running
    for service in LONG_RUNNING:
        assert stack.healthy(service), f"{service} is not healthy\n{stack.tail(service)}"
    for service in ("batch", "traffic"):
        assert stack.inspect(service)["State"]["Running"], f"{service} stopped\n{stack.tail(service)}"
    assert stack.inspect("demo-data")["State"]["ExitCode"] == 0


def test_the_image_runs_as_uid_10001_on_a_read_only_root(check: Check) -> None:
    stack = check.stack
    for service in MODELMON_SERVICES:
        details = stack.inspect(service)
        assert details["Config"]["User"] == "modelmon", service
        assert details["HostConfig"]["ReadonlyRootfs"] is True, service
    assert stack.exec("monitoring", "id", "-u").strip() == "10001"
    attempt = subprocess.run(
        ["podman", "exec", stack.name("monitoring"), "python", "-c", "open('/opt/modelmon/probe', 'w')"],
        capture_output=True, text=True, timeout=60, env=podman_environment(),
    )  # fmt: skip
    assert attempt.returncode != 0 and "Read-only file system" in attempt.stderr, attempt.stderr


def _traffic_progress(check: Check) -> tuple[int, int, int] | None:
    """(ok requests, errors, targets sent) of the traffic's latest progress line, once targets flow."""
    lines = re.findall(
        r"requests (\d+) \(ok (\d+), errors (\d+)\)\s+targets (\d+) sent.*", check.stack.tail("traffic")
    )
    if not lines:
        return None
    _, ok, errors, sent = map(int, lines[-1])
    return (ok, errors, sent) if sent > 0 else None


def test_traffic_goes_through_prediction_into_monitoring_with_the_token(check: Check) -> None:
    progress = wait_until(lambda: _traffic_progress(check), timeout=180)
    assert progress, check.stack.tail("traffic")
    ok, errors, sent = progress
    assert ok > 0 and errors == 0 and sent > 0, check.stack.tail("traffic")
    assert "failed" not in check.stack.tail("traffic", 5), check.stack.tail("traffic")
    status, refused = check.monitoring("/v1/models/taxi-duration/summary", token=None)
    assert status == 401, refused
    for model in MODELS:

        def joined(model: str = model) -> dict[str, Any] | None:
            status, summary = check.monitoring(f"/v1/models/{model}/summary", token="read")
            performance = summary.get("performance", {}) if status == 200 else {}
            return summary if performance.get("applicable") else None

        summary = wait_until(joined, timeout=180)
        assert summary, (
            model,
            check.monitoring(f"/v1/models/{model}/summary"),
            check.stack.tail("monitoring"),
        )
    status, _, metrics = http(f"{check.url['prediction']}/metrics")
    assert status == 200 and re.search(
        rb'modelmon_http_requests_total\{[^}]*status="200"[^}]*\} [1-9]', metrics
    )


def test_prometheus_scrapes_drift_quality_and_performance_of_both_models_with_the_read_token(
    check: Check,
) -> None:
    # /metrics answers only with a token, so the scrape being up is the read token at work
    assert http(f"{check.url['monitoring']}/metrics")[0] == 401
    assert http(f"{check.url['monitoring']}/metrics", check.read_token)[0] == 200
    up = wait_until(lambda: check.query('up{job="modelmon-monitoring"} == 1'), timeout=60)
    assert up, check.stack.tail("prometheus")
    for model in MODELS:
        for series in ("modelmon_drift_score", "modelmon_missing_share", "modelmon_model_metric"):
            expr = f'{series}{{model="{model}"}}'
            assert wait_until(lambda expr=expr: check.query(expr), timeout=180), (
                expr,
                check.stack.tail("monitoring"),
            )


@pytest.mark.parametrize("query", dashboard_queries(), ids=str)
def test_every_grafana_panel_query_returns_data(check: Check, query) -> None:
    # the first queries wait for the slowest series: attributions, computed in the background
    expr = expand(query.expr)
    assert wait_until(lambda: check.query(expr), timeout=300), query


def test_the_incident_fires_its_alert_in_alertmanager(check: Check) -> None:
    def firing() -> set[tuple[str, str]]:
        _, _, text = http(f"{check.url['alertmanager']}/api/v2/alerts?active=true")
        alerts = json.loads(text)
        return {(alert["labels"]["alertname"], alert["labels"].get("model", "")) for alert in alerts}

    expected = ("ModelmonFeatureDrift", "taxi-duration")
    alerts = wait_until(lambda: expected in (found := firing()) and found, timeout=420, interval=2)
    assert alerts, (firing(), check.stack.tail("prometheus"), check.stack.tail("alertmanager"))

    def received() -> list[dict[str, Any]]:
        """The alert as the monitoring service's webhook got it from Alertmanager (after group_wait)."""
        status, listing = check.monitoring("/v1/alerts?model=taxi-duration", token="read")
        assert status == 200, listing
        return [
            alert
            for alert in listing["alerts"]
            if alert["alertname"] == expected[0] and alert["status"] == "firing"
        ]

    assert wait_until(received, timeout=180, interval=2), (
        check.monitoring("/v1/alerts", token="read"),
        check.stack.tail("alertmanager"),
        check.stack.tail("monitoring"),
    )


def _completed_flow_runs(check: Check) -> int:
    body = {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}
    status, _, count = http(f"{check.url['prefect']}/api/flow_runs/count", body=body)
    assert status == 200, (count[:300], check.stack.tail("prefect-server"))
    return int(count)


def test_the_prefect_batch_flow_writes_a_report_the_monitoring_service_serves(check: Check) -> None:
    completed = _completed_flow_runs(check)
    command = ["modelmon", "batch", "--config", "/etc/modelmon/modelmon.yml", "--model", "taxi-duration"]
    output = check.stack.exec("batch", *command, "--since", "1h", timeout=600)
    found = re.search(r"report (\S+)", output)
    assert found, output
    report_id = found.group(1)
    status, listing = check.monitoring("/v1/reports?model=taxi-duration", token="read")
    assert status == 200 and report_id in {report["id"] for report in listing["reports"]}, listing
    status, headers, html = http(f"{check.url['monitoring']}/v1/reports/{report_id}/html", check.read_token)
    assert status == 200 and headers["content-type"].startswith("text/html"), html[:300]
    assert b"taxi-duration" in html
    # the run went through the Prefect server, which recorded it completed
    assert _completed_flow_runs(check) > completed, check.stack.tail("prefect-server")


def test_the_prefect_ui_answers_with_telemetry_off(check: Check) -> None:
    status, headers, page = http(f"{check.url['prefect']}/", timeout=30)
    assert status == 200 and headers["content-type"].startswith("text/html"), (status, page[:300])
    assert b"<script" in page
    status, _, settings = http(f"{check.url['prefect']}/api/admin/settings")
    assert status == 200 and json.loads(settings)["server"]["analytics_enabled"] is False
    assert "PermissionError" not in check.stack.tail("prefect-server", 200)


def _events(count: int) -> list[dict[str, Any]]:
    from modelmon.demo import data

    frame = data.taxi_trips(count, seed=7, id_prefix="sigkill-")
    schema = yaml.safe_load((DEPLOY / "modelmon" / "modelmon.yml").read_text())["models"]["taxi-duration"]
    columns = [*schema["numerical"], *schema["categorical"]]
    return [
        {
            "id": row["ride_id"],
            "features": {name: row[name] for name in columns},
            "prediction": row["duration"],
        }
        for row in json.loads(frame[["ride_id", *columns, "duration"]].to_json(orient="records"))
    ]


def _stored_ids(check: Check) -> set[str]:
    sql = "SELECT id FROM events WHERE model = 'taxi-duration' AND id LIKE 'sigkill-%'"
    return set(check.stack.exec("postgres", "psql", "-U", "modelmon", "-d", "modelmon", "-tAc", sql).split())


def test_sigkill_of_the_monitoring_container_loses_no_acknowledged_event(check: Check) -> None:
    """Batches go in while the container is killed: every batch answered 200 is in the store after the
    restart (the journal and the store are on volumes); the ones in flight may or may not be."""
    stack = check.stack
    events = _events(5000)
    acknowledged: list[str] = []
    stop = threading.Event()

    def send() -> None:
        for start in range(0, len(events), 50):
            batch = events[start : start + 50]
            try:
                status, answer = check.monitoring("/v1/models/taxi-duration/events", {"events": batch})
            except OSError:
                return
            if status != 200 or stop.is_set():
                return
            assert answer["accepted"] == len(batch), answer
            acknowledged.extend(event["id"] for event in batch)

    sender = threading.Thread(target=send)
    before = stack.inspect("monitoring")["State"]["StartedAt"]
    sender.start()
    try:
        assert wait_until(lambda: len(acknowledged) >= 500, timeout=60, interval=0.05), stack.tail(
            "monitoring"
        )
        podman("kill", "--signal", "KILL", stack.name("monitoring"))
    finally:
        stop.set()
        sender.join(60)
    killed = len(acknowledged)
    assert 500 <= killed < len(events), "the kill came after the last batch: nothing was in flight"

    def down_or_restarted() -> bool:
        state = stack.inspect("monitoring")["State"]
        return not state["Running"] or state["StartedAt"] != before

    assert wait_until(down_or_restarted, timeout=30, interval=0.2)
    if not stack.inspect("monitoring")["State"]["Running"]:
        podman("start", stack.name("monitoring"))
    stack.wait_healthy(["monitoring"], timeout=180)
    assert stack.inspect("monitoring")["State"]["StartedAt"] != before
    missing = wait_until(lambda: not (set(acknowledged) - _stored_ids(check)), timeout=120)
    lost = set(acknowledged) - _stored_ids(check)
    assert missing and not lost, (
        f"{len(lost)} of {killed} acknowledged events lost\n{stack.tail('monitoring')}"
    )


def test_a_failing_step_names_its_container_and_ends_with_its_log(check: Check) -> None:
    with pytest.raises(ContainerError, match=r"(?s)demo-data.*last \d+ log lines"):
        check.stack.wait_healthy(["demo-data"], timeout=5)


def test_a_podman_that_cannot_run_a_container_is_named(check: Check, tmp_path: Path) -> None:
    """The check's first probe, with a runtime the machine lacks: the reason names it (the check then
    skips with it, and fails under MODELMON_REQUIRE_INTEGRATION=1)."""
    settings = tmp_path / "containers.conf"
    settings.write_text('[engine]\nruntime = "modelmon-no-such-runtime"\n')
    environment = {**podman_environment(), "CONTAINERS_CONF": str(settings)}
    failure = start_failure(BASES[0], environment)
    assert failure is not None and "modelmon-no-such-runtime" in failure, failure
    assert start_failure(BASES[0]) is None
