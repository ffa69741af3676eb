"""Run the shipped Prometheus config, rules and Grafana queries against services on loopback.

Used by the deploy tests: test_deploy_end_to_end.py points it at stand-ins of the services,
test_deploy_live.py at the real ``modelmon serve`` and ``modelmon demo-service``::

    queries = dashboard_queries()
    config = write_prometheus_config(tmp_path, {"modelmon-monitoring": ["127.0.0.1:8085"],
                                                "modelmon-prediction": ["127.0.0.1:9696"]})
    with PrometheusServer(config, tmp_path / "tsdb") as prometheus:
        ...  # drive traffic with an incident, then
        prometheus.query(expand(queries[0].expr))          # samples of one panel's query
        prometheus.firing_alerts()                          # names of the alerts firing now

``write_prometheus_config`` copies the shipped rules with every ``for:`` shortened (``for_duration``),
so an alert fires within seconds of its condition instead of the production minutes.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from integration_support import free_port, need
from modelmon.demo.stack import wait_for_http

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
RULES = DEPLOY / "prometheus" / "rules"

#: series the services export (DESIGN.md, plus the reference metric, probe duration, drift threshold,
#: type-error share and estimated metric the monitoring service adds), and ``up``
DESIGNED_SERIES = {
    "modelmon_drift_threshold", "modelmon_type_error_share", "modelmon_estimated_metric",
    "modelmon_segment_drifted_share",
    "modelmon_events_total", "modelmon_events_rejected_total", "modelmon_targets_total",
    "modelmon_window_rows", "modelmon_drift_score", "modelmon_drift_detected", "modelmon_dataset_drift",
    "modelmon_drifted_columns_share", "modelmon_missing_share", "modelmon_out_of_range_share",
    "modelmon_new_category_share", "modelmon_model_metric", "modelmon_reference_metric",
    "modelmon_fairness", "modelmon_outlier_share", "modelmon_feature_attribution",
    "modelmon_concept_drift_detected", "modelmon_concept_error_beyond_band",
    "modelmon_drift_insufficient_data", "modelmon_prediction_latency_seconds_bucket",
    "modelmon_service_up", "modelmon_service_probe_seconds", "modelmon_http_requests_total",
    "modelmon_http_request_duration_seconds_bucket", "modelmon_client_queue_depth",
    "modelmon_client_spooled_events", "modelmon_client_dropped_events_total", "up",
}  # fmt: skip


def require_tool(name: str, package: str) -> str:
    """Path of ``name``, or skip (fail under MODELMON_REQUIRE_INTEGRATION=1) naming its Debian package."""
    path = shutil.which(name)
    need(path is not None, f"`{name}` is not installed (apt-get install {package})")
    assert path is not None
    return path


def load_generator(part: str) -> ModuleType:
    """Import ``deploy/<part>/generate.py`` (deploy/ is not a package)."""
    name = f"modelmon_deploy_{part}_generate"
    if name in sys.modules:
        return sys.modules[name]
    path = DEPLOY / part / "generate.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the module runs
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class PanelQuery:
    """One query of one Grafana panel."""

    dashboard: str
    panel: str
    ref_id: str
    expr: str
    instant: bool

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref_id}: {self.expr}"


def dashboard_queries(folder: Path = DASHBOARDS) -> list[PanelQuery]:
    """Every panel query of every dashboard JSON in ``folder``."""
    queries = []
    for path in sorted(folder.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                queries.append(
                    PanelQuery(
                        board["uid"],
                        panel["title"],
                        target["refId"],
                        target["expr"],
                        bool(target.get("instant")),
                    )
                )
    return queries


def expand(expr: str, model: str = ".*") -> str:
    """A panel query as Grafana sends it with the ``model`` variable set to ``model`` (a regex)."""
    return expr.replace("$model", model)


def shorten_for(rules_yaml: str, for_duration: str) -> str:
    """Rules text with every alert's ``for:`` replaced by ``for_duration``."""
    data = yaml.safe_load(rules_yaml)
    for group in data["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                rule["for"] = for_duration
    return yaml.safe_dump(data, sort_keys=False, width=1000)


#: the read token the shipped scrape config sends, as written by :func:`with_secrets` in tests
SCRAPE_TOKEN = "prometheus-read-token-for-tests"


def with_secrets(config: dict[str, Any], folder: Path, token: str = SCRAPE_TOKEN) -> dict[str, Any]:
    """``config`` with each job's ``authorization.credentials_file`` moved into ``folder``, with ``token``."""
    for job in config["scrape_configs"]:
        credentials = job.get("authorization", {}).get("credentials_file")
        if credentials:
            secret = folder / "secrets" / Path(credentials).name
            secret.parent.mkdir(parents=True, exist_ok=True)
            secret.write_text(token + "\n")
            job["authorization"] = {**job["authorization"], "credentials_file": str(secret)}
    return config


def write_prometheus_config(
    folder: Path,
    targets: Mapping[str, Sequence[str]],
    scrape_interval: str = "1s",
    for_duration: str | None = "0s",
    token: str = SCRAPE_TOKEN,
) -> Path:
    """Write a Prometheus config into ``folder`` from the shipped one, scraping ``targets``.

    ``targets`` maps the shipped job names (``modelmon-monitoring``, ``modelmon-prediction``) to
    ``host:port`` addresses; jobs not given are dropped, so nothing points at container names.
    The shipped rules are copied, their ``for:`` set to ``for_duration`` (None keeps them).
    Alertmanager is left out: the alerts are read from Prometheus's ``/api/v1/alerts``. The scrape
    token file the config names is written into ``folder`` with ``token``.
    """
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    unknown = set(targets) - {job["job_name"] for job in config["scrape_configs"]}
    if unknown:
        raise ValueError(f"no job named {sorted(unknown)} in deploy/prometheus/prometheus.yml")
    config["global"] = {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval}
    config.pop("alerting", None)
    config["scrape_configs"] = [
        {**job, "static_configs": [{"targets": list(targets[job["job_name"]])}]}
        for job in config["scrape_configs"]
        if job["job_name"] in targets
    ]
    with_secrets(config, folder, token)
    rules_folder = folder / "rules"
    rules_folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(RULES.glob("*.yml")):
        text = path.read_text()
        (rules_folder / path.name).write_text(shorten_for(text, for_duration) if for_duration else text)
    config["rule_files"] = [str(rules_folder / "*.yml")]
    path = folder / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class PrometheusServer:
    """A throwaway ``prometheus`` on loopback, stopped on exit."""

    def __init__(self, config: Path, storage: Path, binary: str = "prometheus") -> None:
        self.config = config
        self.storage = storage
        self.binary = binary
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PrometheusServer:
        self.storage.mkdir(parents=True, exist_ok=True)
        self._log = (self.storage / "prometheus.log").open("wb")
        self._process = subprocess.Popen(
            [self.binary, f"--config.file={self.config}", f"--storage.tsdb.path={self.storage}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._wait_ready()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._process is not None
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._log.close()

    def _wait_ready(self, timeout: float = 20.0) -> None:
        process = self._process
        assert process is not None
        if not wait_for_http(f"{self.url}/-/ready", timeout, lambda: process.poll() is None):
            how = "exited" if process.poll() is not None else f"not ready after {timeout}s"
            raise RuntimeError(f"prometheus {how}: {self.log()}")

    def log(self) -> str:
        """What prometheus printed so far (the tail)."""
        return (self.storage / "prometheus.log").read_text(errors="replace")[-3000:]

    def api(self, path: str, **params: str) -> dict[str, Any]:
        """GET ``/api/v1/<path>``; a 4xx answer comes back as its JSON (``status`` "error")."""
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as error:
            if 400 <= error.code < 500:
                return json.loads(error.read())
            raise

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Samples of an instant query; raises ValueError naming the query when it does not parse."""
        answer = self.api("query", query=expr)
        if answer["status"] != "success":
            raise ValueError(f"{expr}: {answer.get('errorType')}: {answer.get('error')}")
        return answer["data"]["result"]

    def firing_alerts(self) -> set[str]:
        """Names of the alerts firing now."""
        alerts = self.api("alerts")["data"]["alerts"]
        return {alert["labels"]["alertname"] for alert in alerts if alert["state"] == "firing"}

    def wait_for(self, expr: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Poll ``expr`` until it returns samples; the last (possibly empty) answer after ``timeout``."""
        deadline = time.monotonic() + timeout
        result = self.query(expr)
        while not result and time.monotonic() < deadline:
            time.sleep(0.5)
            result = self.query(expr)
        return result


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_RANGE = re.compile(r"\[[^\]]*\]")
_MODIFIERS = re.compile(r"^\s*(?:(?:on|ignoring|group_left|group_right)\s*(?:\([^)]*\))?\s*)*")


def unguarded_divisions(expr: str) -> list[str]:
    """The parts of ``expr`` after each ``/`` whose divisor is not ``clamp_min(...)``.

    >>> unguarded_divisions("a / clamp_min(b, 1e-09)"), unguarded_divisions("a / ignoring(x) group_left b")
    ([], ['b'])
    """
    code = _RANGE.sub("[]", _STRING.sub('""', expr))  # '/' inside label values or ranges is no division
    found = []
    for part in code.split("/")[1:]:
        divisor = _MODIFIERS.sub("", part, count=1)
        if not divisor.startswith("clamp_min("):
            found.append(divisor.strip())
    return found


def iter_rule_exprs(folder: Path = RULES) -> Iterator[tuple[str, str]]:
    """(rule name, expression) of every recording and alert rule in ``folder``."""
    for path in sorted(folder.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                yield rule.get("record") or rule["alert"], rule["expr"]


def recorded_names(folder: Path = RULES) -> set[str]:
    """Names of the recording rules in ``folder``."""
    return {name for name, _ in iter_rule_exprs(folder) if ":" in name}


def _code(expr: str) -> str:
    return _STRING.sub('""', expr)


def series_names(expr: str) -> list[str]:
    """Names of the series (and recorded series) a PromQL expression selects.

    >>> series_names('sum by (model) (rate(modelmon_events_total{model=~"a"}[5m])) or up')
    ['modelmon_events_total', 'up']
    """
    words = re.findall(
        r"(?<![\w:])[a-zA-Z_:][a-zA-Z0-9_:]*(?=\s*[{\[)]|\s*$|\s+(?:or|and|unless|[-+*/<>=!]))", _code(expr)
    )
    return [word for word in words if word.startswith("modelmon") or word == "up"]


def selectors(expr: str) -> list[tuple[str, str]]:
    """(series name, matchers text) of each modelmon series (or ``up``) in ``expr``; "" when bare.

    >>> selectors('modelmon_events_total{model=~"$model"} / clamp_min(up, 1)')
    [('modelmon_events_total', 'model=~"$model"'), ('up', '')]
    """
    pattern = r"(?<![\w:])(modelmon[a-zA-Z0-9_:]*|up(?![\w:]))(\{[^}]*\})?"
    return [(m.group(1), (m.group(2) or "{}")[1:-1]) for m in re.finditer(pattern, expr)]
