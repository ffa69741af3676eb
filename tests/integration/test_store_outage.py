"""A real PostgreSQL stopped under two dashboards' worth of reads, and inputs PostgreSQL cannot hold.

The service is a real ``modelmon serve`` process on a throwaway cluster (``postgres_support``).
While the server is stopped, 60 readers poll ``/history`` and ``/v1/reports`` (as two open
dashboards do); each read is answered 503 with ``Retry-After`` within seconds, not after the store
driver's minute of retries, and ``/metrics``, ``/health``, ``/summary`` and ingest keep answering
within seconds. After the restart every event answered 200 is in the store once."""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from integration_support import free_port, need, serve_until_healthy, stop_process
from modelmon.config import parse_config
from modelmon.service.app import create_app
from modelmon.service.runtime import MonitoringService
from modelmon.store import open_store
from postgres_support import Cluster, PostgresNotInstalled, start_cluster

pytestmark = [pytest.mark.integration]

psycopg = pytest.importorskip("psycopg")

READERS = 60
#: a read answered 503 takes the read deadline (5 s) at most; a blocked one took up to 59 s
READ_ANSWERED_WITHIN = 15.0
#: scrapes, health and ingest while the store is stopped: seconds on a busy machine, where a call that
#: waited on the store would take its driver's minute
PROMPT = 10.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    try:
        running = start_cluster()
    except PostgresNotInstalled as exc:
        need(False, str(exc))
        raise
    yield running
    running.stop()


def _reference(rows: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=rows), "c": rng.choice(list("abc"), rows)})
    frame["y"] = 2 * frame["x"]
    return frame


def _model() -> dict[str, Any]:
    return {
        "task": "regression",
        "numerical": ["x"],
        "categorical": ["c"],
        "prediction": "y",
        "id": "rid",
        "refresh_seconds": 1,
    }


def _events(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {"id": f"e{i}", "features": {"x": float(i % 7), "c": "abc"[i % 3]}, "prediction": 1.0}
        for i in range(start, start + count)
    ]


def _request(port: int, method: str, path: str, body: Any = None, timeout: float = 90.0) -> tuple:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.perf_counter()
    payload = None if body is None else json.dumps(body).encode()
    try:
        connection.request(method, path, payload, {"Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    return response.status, response.getheader("Retry-After"), data, time.perf_counter() - started


def _fresh_schema(cluster: Cluster) -> str:
    """A URL of the cluster whose connections work in a new schema of their own."""
    schema = f"outage_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(cluster.url(), autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    return f"{cluster.url()}?options=-csearch_path%3D{schema}"


def _stored(schema_url: str) -> int:
    with psycopg.connect(schema_url) as connection:
        return int(connection.execute("SELECT count(*) FROM events WHERE model = 'm'").fetchone()[0])


def _wait(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


class _Readers:
    """``READERS`` threads reading the history and the reports until stopped; every answer kept."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.stop = threading.Event()
        self.answers: list[tuple[str, int, str | None, float]] = []
        self.errors: list[str] = []
        paths = ["/v1/models/m/history", "/v1/reports?model=m"]
        self.threads = [
            threading.Thread(target=self._read, args=(paths[i % 2],), daemon=True) for i in range(READERS)
        ]

    def _read(self, path: str) -> None:
        while not self.stop.is_set():
            try:
                status, retry_after, _, seconds = _request(self.port, "GET", path)
            except OSError as exc:
                self.errors.append(f"{path}: {exc}")
                return
            self.answers.append((path, status, retry_after, seconds))
            if status == 503:
                self.stop.wait(1.0)  # as a dashboard does, it polls again a little later

    def __enter__(self) -> _Readers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(100)


@pytest.mark.slow
def test_a_stopped_postgresql_under_two_dashboards_does_not_stall_scrapes_or_ingest(cluster, tmp_path):
    schema_url = _fresh_schema(cluster)
    _reference().to_parquet(tmp_path / "reference.parquet")
    model = {**_model(), "reference": "reference.parquet"}
    config = {"store": schema_url, "models": {"m": model}, "ingest": {"journal_dir": "journal"}}
    config_path = tmp_path / "modelmon.yml"
    config_path.write_text(yaml.safe_dump(config))
    port = free_port()
    process = serve_until_healthy(config_path, port)
    try:
        assert _request(port, "POST", "/v1/models/m/events", {"events": _events(200)})[0] == 200
        assert _wait(lambda: _stored(schema_url) == 200, 30)
        assert _request(port, "GET", "/v1/models/m/history")[0] == 200
        cluster.run("pg_ctl", "-D", str(cluster.data), "-m", "fast", "-w", "-t", "60", "stop")
        sent = 200
        with _Readers(port) as readers:

            def health() -> dict[str, Any]:
                status, _, body, seconds = _request(port, "GET", "/health", timeout=90)
                assert status == 200 and seconds < PROMPT, seconds
                return json.loads(body)

            rounds = 0
            deadline = time.monotonic() + 60
            # until reads have waited out their deadline on the stopped store, and a few rounds more
            while (health()["store_reads"]["timed_out"] == 0 or rounds < 5) and time.monotonic() < deadline:
                for path in ("/metrics", "/v1/models/m/summary"):
                    status, _, _, seconds = _request(port, "GET", path, timeout=90)
                    assert status == 200 and seconds < PROMPT, (path, seconds)
                status, _, _, seconds = _request(
                    port, "POST", "/v1/models/m/events", {"events": _events(100, sent)}, timeout=90
                )
                assert status == 200 and seconds < PROMPT, ("ingest", status, seconds)
                sent += 100
                rounds += 1
            during = health()
        assert during["store_reads"]["timed_out"] >= 1 and rounds >= 5
        assert "store_reads_failing" in [reason["code"] for reason in during["reasons"]]
        assert not readers.errors, readers.errors[:3]
        refused = [answer for answer in readers.answers if answer[1] == 503]
        assert len(refused) >= READERS
        assert all(retry_after == "5" for _, _, retry_after, _ in refused)
        slowest = max(seconds for *_, seconds in readers.answers)
        assert slowest < READ_ANSWERED_WITHIN, slowest
        cluster.start()
        assert _wait(lambda: _stored(schema_url) == sent, 90), (_stored(schema_url), sent)
        assert _wait(lambda: _request(port, "GET", "/v1/models/m/history")[0] == 200, 90)
    finally:
        stop_process(process)
        if not (cluster.data / "postmaster.pid").exists():
            cluster.start()


def _service_on(url: str, tmp_path: Path) -> MonitoringService:
    config = parse_config(
        {"store": url, "models": {"m": _model()}, "ingest": {"journal_dir": str(tmp_path / "j")}}, environ={}
    )
    return MonitoringService(config, store=open_store(url), references={"m": _reference()})


def test_a_nul_that_postgresql_cannot_hold_is_refused_at_ingest_and_on_reads(cluster, tmp_path):
    schema_url = _fresh_schema(cluster)
    service = _service_on(schema_url, tmp_path)
    api = TestClient(create_app(service, CollectorRegistry()))
    try:
        events = _events(3, 1000)
        events[1]["id"] = "bad\x00id"
        answer = api.post("/v1/models/m/events", json={"events": events})
        assert answer.status_code == 200
        rejected = answer.json()["rejected"]
        assert answer.json()["accepted"] == 2 and [item["index"] for item in rejected] == [1]
        assert rejected[0]["error"].startswith("id: holds a NUL character")
        alone = api.post("/v1/models/m/events", json={**events[1]})
        assert alone.status_code == 422 and "NUL" in alone.json()["rejected"][0]["error"]
        targets = api.post("/v1/models/m/targets", json={"targets": [{"id": "t\x00", "target": 1.0}]})
        assert targets.status_code == 422 and "NUL" in targets.json()["rejected"][0]["error"]
        assert service.persister.flush(30)
        assert service.persister.dead_lettered == 0  # nothing answered 200 fails to be stored
        assert _stored(schema_url) == 2
        for path, params in (
            ("/v1/reports", {"model": "m\x00"}),
            ("/v1/models/m/history", {"names": "window_rows\x00"}),
        ):
            read = api.get(path, params=params)
            assert read.status_code == 400, (path, read.text)
            assert "NUL" in read.json()["error"]
        assert api.get("/v1/reports/r%00").status_code == 404
    finally:
        service.close()
