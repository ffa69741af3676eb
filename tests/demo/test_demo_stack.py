"""The local demo stack: Prometheus config, summary lines, clean stops, and `modelmon demo` end to end."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from integration_support import free_port, require_binary
from modelmon.demo.files import demo_config
from modelmon.demo.stack import Settings, Stack, find_rules_dir, format_summary, prometheus_config
from modelmon.errors import ModelmonError

REPO = Path(__file__).resolve().parents[2]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[1].startswith("Z")  # a zombie is gone too


def test_the_prometheus_config_scrapes_both_services_with_the_shipped_rules(tmp_path: Path) -> None:
    rules = find_rules_dir(tmp_path)  # not under tmp_path: found next to the package
    assert rules == REPO / "deploy" / "prometheus" / "rules"
    config = prometheus_config(18085, 19696, rules, interval=1)
    assert config["global"]["scrape_interval"] == "1s"
    assert config["rule_files"] == [str(rules / "*.yml")]
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    assert targets == {"modelmon-monitoring": ["127.0.0.1:18085"], "modelmon-prediction": ["127.0.0.1:19696"]}
    (tmp_path / "deploy" / "prometheus" / "rules").mkdir(parents=True)
    (tmp_path / "deploy" / "prometheus" / "rules" / "mine.yml").write_text("groups: []\n")
    assert find_rules_dir(tmp_path) == tmp_path / "deploy" / "prometheus" / "rules"


@pytest.mark.integration
def test_promtool_accepts_the_generated_prometheus_config(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(prometheus_config(8085, 9696, find_rules_dir())))
    checked = subprocess.run(
        [promtool, "check", "config", str(path)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout + checked.stderr


def test_the_summary_says_which_columns_drifted_and_a_headline_metric() -> None:
    results = {
        "taxi-duration": {
            "current_rows": 1000,
            "drift": {
                "dataset_drift": False,
                "columns": {"trip_distance": {"detected": True}, "fare_amount": {"detected": False}},
            },
            "performance": {"current": {"mae": 3.21987, "rmse": 4.5}},
        },
        "credit-approval": {"error": "could not fetch the summary: connection refused"},
    }
    assert format_summary(results) == [
        "taxi-duration: 1000 rows in the window; no dataset drift; "
        "1 of 2 columns drifted: trip_distance; mae 3.22",
        "credit-approval: could not fetch the summary: connection refused",
    ]
    # a window whose tests have too few rows for a verdict (dataset_drift null) is not a pass
    warming = {"m": {"current_rows": 300, "drift": {"dataset_drift": None, "columns": {"x": {}}}}}
    assert format_summary(warming) == [
        "m: 300 rows in the window; no drift verdict yet (no feature testable); 0 of 1 columns drifted: none"
    ]


def test_busy_ports_are_named_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stack = Stack(
            Settings(data_dir=tmp_path, monitor_port=port, service_port=free_port(), prometheus=False)
        )
        with pytest.raises(ModelmonError, match=rf"ports \[{port}\] .* --monitor-port"):
            stack.start()
    assert stack.children == {}
    assert not (tmp_path / "modelmon.yml").exists()


def test_stop_kills_a_child_that_ignores_sigterm_and_its_own_children(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    stack = Stack(Settings(data_dir=tmp_path), echo=lambda line: None, stop_seconds=0.5)
    stubborn = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    stack._spawn("stubborn", [sys.executable, "-c", stubborn])
    deadline = time.monotonic() + 60
    while not (tmp_path / "logs" / "stubborn.log").read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.05)
    grandchild = int((tmp_path / "logs" / "stubborn.log").read_text())
    started = time.monotonic()
    stack.stop()
    assert time.monotonic() - started < 20  # 0.5 s and a SIGKILL, where waiting on the child took its 60 s
    assert stack.children["stubborn"].returncode == -signal.SIGKILL
    deadline = time.monotonic() + 60
    while not _gone(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(grandchild)


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux only")
def test_children_end_when_the_orchestrator_is_killed_without_cleaning_up(tmp_path: Path) -> None:
    orchestrator = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from modelmon.demo.stack import Settings, Stack\n"
        f"stack = Stack(Settings(data_dir=Path({str(tmp_path)!r})))\n"
        "(stack.settings.data_dir / 'logs').mkdir()\n"
        "stack._spawn('sleeper', [sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(stack.children['sleeper'].pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    with subprocess.Popen([sys.executable, "-c", orchestrator], stdout=subprocess.PIPE, text=True) as parent:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        parent.kill()
    deadline = time.monotonic() + 60
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child)


@pytest.mark.slow
def test_modelmon_demo_shows_the_injected_drift_and_leaves_no_process_behind(tmp_path: Path) -> None:
    monitor_port, service_port = free_port(), free_port()
    command = [
        *[sys.executable, "-c", "from modelmon.cli import main; main()", "demo"],
        # every request of the 25 s plan is sent, however slowly a busy machine answers (up to 4 minutes)
        *["--duration", "25", "--deadline", "240", "--calm", "5", "--no-prometheus"],
        *["--data-dir", str(tmp_path / "run")],
        *["--model", "taxi", "--rate", "60", "--rows", "5000", "--target-delay", "2"],
        *["--monitor-port", str(monitor_port), "--service-port", str(service_port)],
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=400)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert f"http://127.0.0.1:{monitor_port}/" in output
    assert "incident ON" in output

    taxi = json.loads((tmp_path / "run" / "summary.json").read_text())["taxi-duration"]
    model = demo_config()["models"]["taxi-duration"]
    features = set(model["numerical"]) | set(model["categorical"])
    columns = taxi["drift"]["columns"]
    assert features <= set(columns)
    assert {column for column in features if columns[column]["detected"]} == {"trip_distance"}, columns
    # With fewer rows in the window, chance alone takes some control columns near the 0.1 threshold.
    assert taxi["current_rows"] >= 600, "the prediction service answered too few requests"
    assert taxi["drift"]["dataset_drift"] is False
    assert re.search(r"taxi-duration: \d+ rows in the window; .*drifted: .*trip_distance", output)

    pids = [int(pid) for pid in re.findall(r"\(pid (\d+)\)", output.split("stopped:")[-1])]
    assert len(pids) == 3  # monitoring, prediction, simulator
    assert all(_gone(pid) for pid in pids)
