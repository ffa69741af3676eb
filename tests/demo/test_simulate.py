"""The traffic simulator: plan checks, incident schedule, pacing, late targets, bounds (no real waiting)."""

from __future__ import annotations

import math
import re
import signal
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from modelmon.cli import cli
from modelmon.demo.simulate import (
    MAX_RATE,
    JsonPoster,
    Plan,
    Simulator,
    check_local_url,
    parse_incident,
)
from modelmon.errors import ConfigError, InputError


class FakeClock:
    """A clock that moves only when the simulator sleeps (or a request "takes" time)."""

    def __init__(self, request_seconds: float = 0.0) -> None:
        self.now = 1000.0
        self.request_seconds = request_seconds
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds
        self.slept += seconds


class FakeServices:
    """Records every POST with the fake time it was made at; answers like the two services."""

    def __init__(self, clock: FakeClock, fail_every: int = 0, refuse_targets: bool = False) -> None:
        self.clock = clock
        self.fail_every = fail_every
        self.refuse_targets = refuse_targets
        self.requests: list[tuple[float, str, dict[str, Any]]] = []
        self.targets: list[tuple[float, str, list[dict[str, Any]]]] = []

    def post(self, base_url: str, path: str, body: Any) -> tuple[int, Any]:
        if path.endswith("/targets"):
            if self.refuse_targets:
                return 401, {"error": "missing or invalid bearer token"}
            self.targets.append((self.clock.now, path, body["targets"]))
            return 200, {"accepted": len(body["targets"])}
        self.requests.append((self.clock.now, path, body))
        self.clock.now += self.clock.request_seconds
        if self.fail_every and len(self.requests) % self.fail_every == 0:
            return 400, {"error": "missing field 'fare_amount'"}
        return 200, {"ok": True}


def _run(
    plan: Plan, request_seconds: float = 0.0, **options: Any
) -> tuple[Simulator, FakeServices, list[str]]:
    clock = FakeClock(request_seconds)
    services = FakeServices(clock, options.pop("fail_every", 0), options.pop("refuse_targets", False))
    lines: list[str] = []
    simulator = Simulator(
        plan,
        "http://127.0.0.1:9696",
        "http://127.0.0.1:8085",
        post=services.post,
        clock=clock,
        sleep=clock.sleep,
        echo=lines.append,
        **options,
    )
    simulator.run()
    return simulator, services, lines


def test_requests_are_paced_at_the_rate_and_alternate_between_models() -> None:
    plan = Plan(models=("taxi", "credit"), rate=20, duration=3, target_delay=100)
    simulator, services, _ = _run(plan)
    assert len(services.requests) == 60 == simulator.stats.ok
    start = services.requests[0][0]
    for k, (at, path, _) in enumerate(services.requests):
        assert at - start == pytest.approx(k / 20, abs=1e-9)
        assert path == ("/predict" if k % 2 == 0 else "/predict/credit")
    ids = [body.get("ride_id", body.get("application_id")) for _, _, body in services.requests]
    assert len(set(ids)) == 60


def test_targets_are_sent_after_the_delay_in_batches_joined_by_id() -> None:
    plan = Plan(models=("taxi",), rate=10, duration=5, target_delay=2.0)
    simulator, services, _ = _run(plan, target_batch=7)
    sent_at = {body["ride_id"]: at for at, _, body in services.requests}
    targets = [(at, target) for at, _, batch in services.targets for target in batch]
    assert sorted(target["id"] for _, target in targets) == sorted(sent_at)
    for at, target in targets:
        assert 2.0 <= at - sent_at[target["id"]] < 2.6  # due after the delay, sent within a sleep step
        assert 1.0 <= target["target"] <= 180.0
    assert max(len(batch) for _, _, batch in services.targets) <= 7
    assert all(path == "/v1/models/taxi-duration/targets" for _, path, _ in services.targets)
    assert simulator.stats.targets_sent == 50


def test_the_incident_starts_at_its_time_and_touches_only_its_columns() -> None:
    shift = parse_incident("covariate_shift:trip_distance")
    spike = parse_incident("missing_spike:tip_amount")
    clean = Plan(models=("taxi",), rate=100, duration=30)
    hit = Plan(models=("taxi",), rate=100, duration=30, incidents=(shift, spike), incident_at=10)
    assert hit.incident_row("taxi") == 1000
    before, after = list(clean.rows("taxi", 0, 3000)), list(hit.rows("taxi", 0, 3000))
    assert before[:1000] == after[:1000]
    changed = {
        key
        for old, new in zip(before[1000:], after[1000:], strict=True)
        for key in old
        if old[key] != new[key]
    }
    assert changed == {"trip_distance", "tip_amount"}
    mean = lambda rows, key: sum(row[key] for row in rows) / len(rows)  # noqa: E731
    assert mean(after[1000:], "trip_distance") > 2 * mean(before[1000:], "trip_distance")
    missing = sum(row["tip_amount"] is None for row in after[1000:]) / 2000
    assert missing == pytest.approx(0.3, abs=0.01)
    assert all(row["tip_amount"] is not None for row in after[:1000])


def test_rows_are_the_same_whichever_slice_is_asked_across_chunks() -> None:
    plan = Plan(
        models=("credit",),
        rate=100,
        duration=60,
        incidents=(parse_incident("new_categories"),),
        incident_at=25,
    )
    whole = list(plan.rows("credit", 0, 4100))
    assert list(plan.rows("credit", 1990, 2010)) == whole[1990:2010]
    assert len({row["application_id"] for row in whole}) == 4100
    assert [row["purpose"].startswith("new_") for row in whole[:2500]] == [False] * 2500
    assert any(row["purpose"].startswith("new_") for row in whole[2500:])


def test_with_two_models_each_stream_starts_its_incident_at_the_same_time() -> None:
    plan = Plan(models=("taxi", "credit"), rate=10, duration=10, incident_at=3.05)
    # request 31 is the first at or after 3.05 s: taxi row 16 (request 32), credit row 15 (request 31)
    assert (plan.incident_row("taxi"), plan.incident_row("credit")) == (16, 15)
    assert plan.route(31) == ("credit", 15)


def test_a_slow_service_does_not_make_the_run_longer_than_its_duration() -> None:
    plan = Plan(models=("taxi",), rate=50, duration=4, target_delay=0)
    _, services, lines = _run(plan, request_seconds=0.05)  # 20 requests per second at most
    assert len(services.requests) == pytest.approx(80, abs=2)
    assert any("too slow" in line and "skipped" in line for line in lines)
    assert services.requests[-1][0] - services.requests[0][0] < 4.0


def test_a_later_deadline_sends_every_request_of_the_plan_to_a_slow_service() -> None:
    plan = Plan(models=("taxi",), rate=50, duration=4, target_delay=0, deadline=60)
    _, services, lines = _run(plan, request_seconds=0.05)  # 20 requests per second at most
    assert len(services.requests) == 200
    assert not any("skipped" in line for line in lines)
    assert services.requests[-1][0] - services.requests[0][0] == pytest.approx(199 * 0.05)


def test_the_deadline_still_bounds_a_run_the_service_holds_up_too_long() -> None:
    plan = Plan(models=("taxi",), rate=50, duration=4, target_delay=0, deadline=6)
    _, services, lines = _run(plan, request_seconds=0.05)
    assert len(services.requests) == pytest.approx(120, abs=2)
    assert any("too slow" in line and "skipped" in line for line in lines)


def test_errors_are_counted_and_progress_lines_are_printed() -> None:
    plan = Plan(models=("taxi",), rate=10, duration=12, target_delay=1)
    simulator, _, lines = _run(plan, fail_every=4, progress_every=5)
    assert (simulator.stats.ok, simulator.stats.errors) == (90, 30)
    assert simulator.stats.targets_sent == 90  # no ground truth for failed requests
    progress = [line for line in lines if line.startswith("[simulate]  ")]
    assert len(progress) == 2
    assert "missing field 'fare_amount'" in lines[-1]


def test_refused_ground_truth_is_counted_with_its_reason() -> None:
    plan = Plan(models=("taxi",), rate=10, duration=6, target_delay=1)
    simulator, _, lines = _run(plan, refuse_targets=True, progress_every=5)
    assert (simulator.stats.ok, simulator.stats.targets_sent, simulator.stats.targets_failed) == (60, 0, 60)
    progress = [line for line in lines if line.startswith("[simulate]  ")]
    assert "last error: targets: 401 missing or invalid bearer token" in progress[0]
    assert "60 failed" in lines[-1] and "401 missing or invalid bearer token" in lines[-1]


def test_stop_ends_the_run_at_once_and_drops_waiting_targets() -> None:
    plan = Plan(models=("taxi",), rate=10, duration=100, target_delay=50)
    clock = FakeClock()
    services = FakeServices(clock)
    lines: list[str] = []
    simulator = Simulator(
        plan, "http://x", "http://y", post=services.post, clock=clock, sleep=clock.sleep, echo=lines.append
    )
    original = services.post

    def stop_after_five(base_url: str, path: str, body: Any) -> tuple[int, Any]:
        if len(services.requests) == 4:
            simulator.stop()
        return original(base_url, path, body)

    simulator.post = stop_after_five
    stats = simulator.run()
    assert stats.sent == 5
    assert services.targets == []
    assert any("5 targets not sent" in line for line in lines)


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"rate": 0}, InputError, "rate 0"),
        ({"rate": MAX_RATE * 2}, InputError, "at most"),
        ({"duration": math.inf}, InputError, "duration inf"),
        ({"models": ("bikes",)}, ConfigError, "bikes"),
        ({"target_delay": -1}, InputError, "must not be negative"),
        ({"duration": 10, "deadline": 5}, InputError, "deadline 5 must be at least the duration"),
        (
            {"models": ("credit",), "incidents": (parse_incident("missing_spike:tip_amount"),)},
            ConfigError,
            "none of",
        ),
    ],
)
def test_a_plan_outside_its_bounds_says_what_is_wrong(
    arguments: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        Plan(**arguments)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("earthquake", "unknown incident 'earthquake'"),
        ("bias", "computes"),
        ("covariate_shift:no_such_column", "no demo dataset"),
        ("concept_change:trip_distance", "takes no columns"),
        ("new_categories:purpose,region", "takes one column"),
    ],
)
def test_incidents_are_checked_by_name_and_columns(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_incident(text)


def test_only_local_or_private_hosts_are_accepted() -> None:
    assert check_local_url("http://localhost:9696/") == "http://localhost:9696"
    assert check_local_url("http://10.1.2.3:8085") == "http://10.1.2.3:8085"
    with pytest.raises(InputError, match=r"not to 1\.1\.1\.1"):
        check_local_url("http://1.1.1.1:80")
    with pytest.raises(InputError, match="not an http"):
        check_local_url("ftp://127.0.0.1")


def test_the_json_poster_raises_oserror_when_nothing_listens() -> None:
    with pytest.raises(OSError):
        JsonPoster(timeout=1.0).post("http://127.0.0.1:9", "/predict", {})


class _Recorder(BaseHTTPRequestHandler):
    """Answers like the prediction service (any path) and the monitoring service (``/targets``, which
    wants the token ``secret``), and records the Authorization header of each request."""

    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        authorization = self.headers.get("Authorization")
        self.seen.append((self.path, authorization))
        refused = self.path.endswith("/targets") and authorization != "Bearer secret"
        body = b'{"error": "missing or invalid bearer token"}' if refused else b'{"accepted": 1}'
        self.send_response(401 if refused else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def services() -> Iterator[str]:
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(10)


@pytest.mark.parametrize("how", ["option", "environment"])
def test_simulate_sends_the_token_to_the_monitoring_service_only(services: str, how: str) -> None:
    # the two services on one port, told apart by path: the prediction service is reached under /svc
    options = ["--token", "secret"] if how == "option" else []
    environment = {"MODELMON_TOKEN": "secret"} if how == "environment" else {}
    command = ["simulate", "--service-url", f"{services}/svc", "--monitor-url", services]
    command += ["--model", "taxi", "--rate", "20", "--duration", "0.5", "--target-delay", "0", *options]
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    result = CliRunner().invoke(cli, command, env=environment)
    assert result.exit_code == 0, result.output
    # Ctrl-C stopped the run only while it ran: the process's own handlers are back
    assert {sig: signal.getsignal(sig) for sig in handlers} == handlers
    targets = [auth for path, auth in _Recorder.seen if path.endswith("/targets")]
    predictions = [auth for path, auth in _Recorder.seen if path.startswith("/svc")]
    assert targets and set(targets) == {"Bearer secret"}
    # 20 requests/s for 0.5 s: 10 when the machine keeps up, fewer when the run's time is up first
    sent = int(re.findall(r"requests (\d+) \(ok", result.output)[-1])
    assert 1 <= sent <= 10 and len(predictions) == sent and set(predictions) == {None}
    assert f"targets {sent} sent" in result.output


def test_simulate_without_the_token_says_why_the_ground_truth_was_refused(services: str) -> None:
    command = ["simulate", "--service-url", f"{services}/svc", "--monitor-url", services]
    command += ["--model", "taxi", "--rate", "20", "--duration", "0.5", "--target-delay", "0"]
    result = CliRunner().invoke(cli, command, env={"MODELMON_TOKEN": ""})
    assert result.exit_code == 1
    assert "10 failed" in result.output
    assert "no ground truth was accepted; last error: targets: 401 missing or invalid bearer token" in (
        result.output
    )
