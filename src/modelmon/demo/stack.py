"""The local demo stack: monitoring service, prediction service, traffic with an incident, and Prometheus.

:class:`Stack` writes the demo files when the data folder has none, starts ``modelmon serve`` and
``modelmon demo-service`` as child processes, waits until both answer ``/health``, starts a local
Prometheus scraping both when the ``prometheus`` binary is installed, then runs ``modelmon simulate``
with an incident after a calm period. :meth:`Stack.stop` stops the children in order (traffic first,
the monitoring service last) with SIGTERM, waits, and kills what does not stop; each child also gets
SIGTERM from the kernel if this process dies without cleaning up, so no process is left behind.

Service logs go to ``DATA_DIR/logs/``; the final summary of each model to ``DATA_DIR/summary.json``.

>>> config = prometheus_config(8085, 9696, rules_dir=None, interval=5)
>>> [job["job_name"] for job in config["scrape_configs"]]
['modelmon-monitoring', 'modelmon-prediction']
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import yaml

from modelmon.errors import ModelmonError

__all__ = [
    "Settings",
    "Stack",
    "find_rules_dir",
    "format_summary",
    "modelmon_command",
    "prometheus_config",
    "wait_for_http",
]

_HOST = "127.0.0.1"
#: the demo's windows are recomputed more often than the demo config's default, for quick feedback
_REFRESH_SECONDS = 2


@dataclass(frozen=True)
class Settings:
    """What ``modelmon demo`` runs; ``duration=None`` runs until stopped."""

    data_dir: Path = Path("demo-run")
    duration: float | None = None
    incidents: tuple[str, ...] = ("covariate_shift:trip_distance",)
    model: str = "both"
    calm: float = 30.0
    rate: float = 50.0
    target_delay: float = 5.0
    deadline: float | None = None
    rows: int = 20_000
    prometheus: bool = True
    monitor_port: int = 8085
    service_port: int = 9696
    prometheus_port: int = 9090

    @property
    def monitor_url(self) -> str:
        return f"http://{_HOST}:{self.monitor_port}"

    @property
    def service_url(self) -> str:
        return f"http://{_HOST}:{self.service_port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://{_HOST}:{self.prometheus_port}"


def modelmon_command(*arguments: str) -> list[str]:
    """The command line running ``modelmon ARGUMENTS`` with this interpreter."""
    return [sys.executable, "-c", "from modelmon.cli import main; main()", *arguments]


def find_rules_dir(start: Path | None = None) -> Path | None:
    """``deploy/prometheus/rules`` of a repository checkout, next to the package or under ``start``."""
    package_root = Path(__file__).resolve().parents[3]
    for root in (start or Path.cwd(), package_root):
        rules = root / "deploy" / "prometheus" / "rules"
        if any(rules.glob("*.yml")):
            return rules
    return None


def prometheus_config(
    monitor_port: int, service_port: int, rules_dir: Path | None, interval: float = 5
) -> dict[str, Any]:
    """A Prometheus config scraping the monitoring and prediction services on this machine."""
    seconds = f"{interval:g}s"
    config: dict[str, Any] = {"global": {"scrape_interval": seconds, "evaluation_interval": seconds}}
    if rules_dir is not None:
        config["rule_files"] = [str(rules_dir / "*.yml")]
    config["scrape_configs"] = [
        {"job_name": job, "static_configs": [{"targets": [f"{_HOST}:{port}"]}]}
        for job, port in (("modelmon-monitoring", monitor_port), ("modelmon-prediction", service_port))
    ]
    return config


def wait_for_http(url: str, timeout: float, alive: Callable[[], bool] = lambda: True) -> bool:
    """True once ``url`` answers 200 within ``timeout`` seconds; False if it does not or ``alive()`` fails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return True
        time.sleep(0.2)
    return False


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        # As the servers do: a port whose last connections linger in TIME_WAIT is free to listen on.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((_HOST, port))
        except OSError:
            return False
    return True


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # Linux only: the kernel sends SIGTERM to the child when this process ends, even by SIGKILL.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


class Stack:
    """Start, watch and stop the demo's processes."""

    def __init__(
        self, settings: Settings, echo: Callable[[str], None] = print, stop_seconds: float = 10.0
    ) -> None:
        self.settings = settings
        self.echo = echo
        self.stop_seconds = stop_seconds
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}
        self.stopping = threading.Event()
        self._log_files: list[IO[bytes]] = []

    # -- starting ---------------------------------------------------------------------------------

    def prepare(self) -> Path:
        """Write the demo files if missing, and the stack's own config (with the health probe); return it."""
        folder = self.settings.data_dir
        from modelmon.demo.files import CONFIG_NAME, demo_config, write_demo_files

        if not (folder / CONFIG_NAME).is_file() or not (folder / "credit_model.pkl").is_file():
            self.echo(f"writing demo data and models into {folder} ({self.settings.rows} rows per file)...")
            write_demo_files(folder, rows=self.settings.rows)
        config = demo_config()
        for model in config["models"].values():
            model["refresh_seconds"] = _REFRESH_SECONDS
        config["health"] = {"prediction-service": f"{self.settings.service_url}/health"}
        path = folder / "stack.yml"
        path.write_text("# written by `modelmon demo`\n" + yaml.safe_dump(config, sort_keys=False))
        (folder / "logs").mkdir(exist_ok=True)
        return path

    def start(self) -> None:
        """Start the services and wait until they answer; raise ModelmonError naming what failed."""
        settings = self.settings
        ports = [settings.monitor_port, settings.service_port]
        if settings.prometheus and shutil.which("prometheus"):
            ports.append(settings.prometheus_port)
        busy = [port for port in ports if not _port_free(port)]
        if busy:
            raise ModelmonError(
                f"ports {busy} on {_HOST} are in use (another demo running?); stop it or choose other ports "
                "with --monitor-port, --service-port and --prometheus-port"
            )
        config = self.prepare()
        folder = settings.data_dir.resolve()
        self._spawn(
            "monitoring",
            modelmon_command(
                "serve", "--config", str(config.resolve()), "--port", str(settings.monitor_port)
            ),
        )
        self._spawn(
            "prediction",
            modelmon_command(
                "demo-service",
                "--port",
                str(settings.service_port),
                "--monitor-url",
                settings.monitor_url,
                "--data-dir",
                str(folder),
            ),
            env={"MODELMON_SPOOL_DIR": str(folder / "spool")},
        )
        for name, url in (
            ("monitoring", f"{settings.monitor_url}/health"),
            ("prediction", f"{settings.service_url}/health"),
        ):
            self._await(name, url, timeout=120.0)
        if settings.prometheus:
            self._start_prometheus()

    def _start_prometheus(self) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            self.echo("prometheus is not installed (apt-get install prometheus): running without it")
            return
        settings = self.settings
        folder = settings.data_dir.resolve() / "prometheus"
        folder.mkdir(exist_ok=True)
        rules = find_rules_dir()
        if rules is None:
            self.echo(
                "no deploy/prometheus/rules found (not a repository checkout): Prometheus runs without rules"
            )
        config = folder / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(
                prometheus_config(settings.monitor_port, settings.service_port, rules), sort_keys=False
            )
        )
        self._spawn(
            "prometheus",
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address={_HOST}:{settings.prometheus_port}",
            ],
        )
        if not wait_for_http(f"{settings.prometheus_url}/-/ready", 30.0, self._alive("prometheus")):
            self.echo(f"Prometheus did not start; see {self.logs['prometheus']}. Going on without it.")
            self._stop_child("prometheus")

    def _spawn(self, name: str, command: list[str], env: Mapping[str, str] | None = None) -> None:
        log_path = self.settings.data_dir / "logs" / f"{name}.log"
        log_file = log_path.open("ab")
        self._log_files.append(log_file)
        self.logs[name] = log_path
        self.children[name] = subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.settings.data_dir,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # Ctrl-C reaches this process only: it stops the children in order
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )

    def _alive(self, name: str) -> Callable[[], bool]:
        return lambda: name in self.children and self.children[name].poll() is None

    def _await(self, name: str, url: str, timeout: float) -> None:
        if not wait_for_http(url, timeout, self._alive(name)):
            tail = self.logs[name].read_text(errors="replace").splitlines()[-15:]
            raise ModelmonError(
                f"the {name} service did not come up at {url}; its log ends with:\n" + "\n".join(tail)
            )

    # -- running ----------------------------------------------------------------------------------

    def run_traffic(self) -> int | None:
        """Run the simulator until it ends or :meth:`request_stop`; its exit code (None when stopped)."""
        settings = self.settings
        duration = settings.duration if settings.duration is not None else 7 * 24 * 3600.0
        arguments = [
            "simulate",
            "--service-url",
            settings.service_url,
            "--monitor-url",
            settings.monitor_url,
            "--model",
            settings.model,
            "--rate",
            f"{settings.rate:g}",
            "--duration",
            f"{duration:g}",
            "--incident-at",
            f"{settings.calm:g}",
            "--target-delay",
            f"{settings.target_delay:g}",
        ]
        if settings.deadline is not None:
            arguments += ["--deadline", f"{settings.deadline:g}"]
        for incident in settings.incidents:
            arguments += ["--incident", incident]
        simulator = subprocess.Popen(
            modelmon_command(*arguments),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        self.children["simulator"] = simulator
        while simulator.poll() is None and not self.stopping.wait(0.5):
            pass
        self._stop_child("simulator")  # stopped by Ctrl-C: it prints its last line and ends
        return simulator.returncode

    def request_stop(self, *_: Any) -> None:
        """Signal handler: make :meth:`run_traffic` return."""
        self.stopping.set()

    def urls(self) -> list[str]:
        settings = self.settings
        lines = [
            f"dashboard           {settings.monitor_url}/",
            f"monitoring API      {settings.monitor_url}/v1/models  (and {settings.monitor_url}/metrics)",
            f"prediction service  {settings.service_url}/predict  (and {settings.service_url}/metrics)",
        ]
        if "prometheus" in self.children and self.children["prometheus"].poll() is None:
            lines.append(f"Prometheus          {settings.prometheus_url}/")
        return lines

    def summary(self, wait: float = 60.0) -> dict[str, Any]:
        """The latest window results of every model; those that got traffic once recomputed after now.

        A busy machine recomputes late, so the summary of a model that got traffic is read again
        until its ``computed_at`` is past the call, for up to ``wait`` seconds.
        """
        from modelmon.demo.files import demo_config
        from modelmon.demo.simulate import DATASETS

        asked = datetime.now(tz=UTC)
        sent = {spec.model_name for name, spec in DATASETS.items() if self.settings.model in (name, "both")}
        deadline = time.monotonic() + wait
        results: dict[str, Any] = {}
        for model in demo_config()["models"]:
            while True:
                results[model] = self._model_summary(model)
                computed = str(results[model].get("computed_at") or "")
                fresh = bool(computed) and datetime.fromisoformat(computed) > asked
                if model not in sent or fresh or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        (self.settings.data_dir / "summary.json").write_text(json.dumps(results, indent=2, default=str))
        return results

    def _model_summary(self, model: str) -> dict[str, Any]:
        try:
            answer = _get_json(f"{self.settings.monitor_url}/v1/models/{model}/summary")
        except (OSError, ValueError) as exc:
            return {"error": f"could not fetch the summary: {exc}"}
        return answer if isinstance(answer, dict) else {"error": f"not a summary: {answer!r:.200}"}

    # -- stopping ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop every child (last started first): SIGTERM, wait, SIGKILL what is still running."""
        for name in reversed(list(self.children)):
            self._stop_child(name)
        for log_file in self._log_files:
            log_file.close()
        self._log_files.clear()

    def _stop_child(self, name: str) -> None:
        process = self.children.get(name)
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(self.stop_seconds)
        except subprocess.TimeoutExpired:
            self.echo(f"{name} did not stop within {self.stop_seconds:g}s: killing it")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.children.items()}


def format_summary(results: Mapping[str, Any]) -> list[str]:
    """One line per model: window rows, dataset drift verdict, drifted columns, headline metric."""
    lines = []
    for model, result in results.items():
        if "error" in result and "drift" not in result:
            lines.append(f"{model}: {result['error']}")
            continue
        drift = result.get("drift") or {}
        columns = drift.get("columns") or {}
        drifted = sorted(column for column, info in columns.items() if info.get("detected"))
        verdict = "DRIFT" if drift.get("dataset_drift") else "no dataset drift"
        if drift.get("dataset_drift") is None:
            verdict = "no drift verdict yet (no feature testable)"
        line = (
            f"{model}: {result.get('current_rows', 0)} rows in the window; {verdict}; "
            f"{len(drifted)} of {len(columns)} columns drifted: {', '.join(drifted) or 'none'}"
        )
        performance = (result.get("performance") or {}).get("current") or {}
        for metric in ("mae", "rmse", "accuracy", "roc_auc"):
            if isinstance(performance.get(metric), int | float):
                line += f"; {metric} {performance[metric]:.3g}"
                break
        lines.append(line)
    return lines
