"""The online path: ingest throughput of ``modelmon serve``, the client's added latency on a
prediction service, and the recompute time of a small and a large window.

    python -m bench.online [--events 200000] [--requests 10000] [--predictions 5000] [--window-rows 1000000]

(a) ``modelmon serve`` runs as a subprocess on a free loopback port with the demo config; client
    threads (one keep-alive ``http.client`` connection each, bodies encoded beforehand) post single
    events, then batches of 500 events. Before each phase the service is left to work off what it
    queued (its background recompute profiles the queued rows, its writer stores the journaled
    batches), so a phase does not pay for the previous one. Client and server share this machine's
    two cores. It runs once per journal mode (``ingest: {fsync: group}``, the default: fsync before
    the answer; ``interval``: written to the OS before the answer, fsynced every 50 ms), and gives
    each single-event request's latency (median, p99) beside the throughput.
(b) The demo prediction service's ``/predict``, in process through Flask's test client (no socket
    noise): the same handler without modelmon (no monitor, no middleware) and the demo app from
    ``create_app`` (monitor sending to the running service, Flask middleware), requests
    interleaved in one loop so both see the same machine state.
(c) ``ModelMonitor.recompute()`` with no new rows for a 1k-row and a large window, each filled
    with that many demo events first (not timed); median of several recomputes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.harness import ROOT

MODEL = "taxi-duration"
BATCH = 500


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def demo_events(folder: Path, count: int) -> list[dict[str, Any]]:
    """``count`` events made from the demo's current taxi trips (repeated when needed)."""
    import pandas as pd

    from modelmon.demo import models

    frame = pd.read_parquet(folder / "taxi_current.parquet")
    features = models.TAXI_NUMERICAL + models.TAXI_CATEGORICAL
    records = frame[features].astype(object).where(frame[features].notna(), None).to_dict("records")
    predictions = frame[models.TAXI_PREDICTION].tolist()
    targets = frame[models.TAXI_TARGET].tolist()
    return [
        {
            "id": f"e{i}",
            "features": records[i % len(records)],
            "prediction": predictions[i % len(records)],
            "target": targets[i % len(records)],
        }
        for i in range(count)
    ]


def start_service(config: Path, port: int, source: Path | None = None) -> subprocess.Popen[bytes]:
    """``modelmon serve`` on ``config``; ``source``: another checkout's ``src`` folder to run instead."""
    from modelmon.demo.stack import wait_for_http

    modelmon = str(Path(sys.executable).parent / "modelmon")
    command = [modelmon, "serve", "--config", str(config), "--port", str(port)]
    env = dict(os.environ, PYTHONPATH=str(source)) if source is not None else None
    service = subprocess.Popen(
        command, cwd=config.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    if wait_for_http(f"http://127.0.0.1:{port}/health", 120, lambda: service.poll() is None):
        return service
    if service.poll() is not None:
        message = service.stderr.read().decode()[-2000:] if service.stderr is not None else ""
        stop_service(service)
        raise RuntimeError(f"modelmon serve stopped: {message}")
    stop_service(service)
    raise RuntimeError("modelmon serve did not answer /health within 120 s")


def stop_service(service: subprocess.Popen[bytes]) -> None:
    service.terminate()
    service.wait(timeout=30)
    if service.stderr is not None:
        service.stderr.close()


def post_all(port: int, bodies: list[bytes], workers: int, latencies: list[float] | None = None) -> float:
    """Post every body (split among ``workers`` keep-alive connections); wall seconds.

    A 503 (the service's backlog is full) is waited out as its ``Retry-After`` says and sent again,
    as the client does; each request's seconds go to ``latencies`` when given.
    """
    path = f"/v1/models/{MODEL}/events"
    failures: list[str] = []

    def work(share: list[bytes]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for body in share:
            while True:
                started = time.perf_counter()
                connection.request("POST", path, body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                answer = response.read()
                if latencies is not None:
                    latencies.append(time.perf_counter() - started)
                if response.status != 503:
                    break
                time.sleep(float(response.getheader("Retry-After") or 1))
            if response.status != 200:
                failures.append(f"{response.status}: {answer[:300]!r}")
        connection.close()

    threads = [threading.Thread(target=work, args=(bodies[i::workers],)) for i in range(workers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, first: {failures[0]}")
    return seconds


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds process ``pid`` has used (its threads included)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settle(pid: int, quiet_share: float = 0.05, timeout: float = 120.0, quiet_seconds: float = 0.5) -> None:
    """Wait until the service has worked off its queue: it used under 5% of a core for
    ``quiet_seconds`` in a row (longer than a refresh for the window's recompute to have passed)."""
    deadline = time.monotonic() + timeout
    before, quiet = cpu_seconds(pid), 0.0
    while time.monotonic() < deadline and quiet < quiet_seconds:
        time.sleep(0.5)
        after = cpu_seconds(pid)
        quiet = quiet + 0.5 if after - before < 0.5 * quiet_share else 0.0
        before = after


def ingest(port: int, pid: int, events: list[dict[str, Any]], requests: int, mode: str) -> list[str]:
    """Single events first, then batches; the service works off what it queued before each phase."""
    batched = [json.dumps({"events": events[i : i + BATCH]}).encode() for i in range(0, len(events), BATCH)]
    lines = []
    for round, workers in enumerate((2, 4)):
        # fresh ids each round: a resent id is stored and counted once, which would flatter the figure
        offset = len(events) + round * requests
        singles = [
            json.dumps(dict(event, id=f"s{offset + i}")).encode() for i, event in enumerate(events[:requests])
        ]
        settle(pid)
        latencies: list[float] = []
        seconds = post_all(port, singles, workers, latencies)
        latencies.sort()
        median, p99 = (
            latencies[len(latencies) // 2] * 1000,
            latencies[int(0.99 * (len(latencies) - 1))] * 1000,
        )
        lines.append(
            f"| ingest, one event per request, fsync {mode} | {workers} client threads | "
            f"{len(singles):,} requests in {seconds:.2f} s | **{len(singles) / seconds:,.0f} requests/s**, "
            f"latency median {median:.2f} ms, **p99 {p99:.2f} ms** | p99 < 10 ms |"
        )
    for round, workers in enumerate((2, 4)):
        if round:
            batched = [body.replace(b'"id": "e', b'"id": "b') for body in batched]
        settle(pid)
        before = cpu_seconds(pid)
        seconds = post_all(port, batched, workers)
        answering = cpu_seconds(pid) - before
        settle(pid, quiet_seconds=6.0)  # the store writer and the next recompute take what it queued
        total = cpu_seconds(pid) - before
        lines.append(
            f"| ingest, batches of {BATCH}, fsync {mode} | {workers} client threads | "
            f"{len(events):,} events in {seconds:.2f} s "
            f"| **{len(events) / seconds:,.0f} events/s**; service CPU {answering:.2f} s while answering, "
            f"{total:.2f} s with the store and window done: **{len(events) / total:,.0f} events per CPU "
            "second** | >= 20,000 events/s |"
        )
    settle(pid)
    return lines


def fresh_store(folder: Path) -> None:
    """Remove the demo's SQLite store, so the next service starts empty (no rebuild, no duplicate ids)."""
    for name in ("modelmon.db", "modelmon.db-wal", "modelmon.db-shm"):
        (folder / name).unlink(missing_ok=True)


def plain_app(folder: Path) -> Any:
    """The demo ``/predict`` handler without modelmon: no monitor, no middleware."""
    import flask

    from modelmon.demo import models
    from modelmon.demo.service import ROUTES, RowModel, parse_features
    from modelmon.errors import InputError

    route = ROUTES[0]
    model = RowModel(models.load_model(folder / route.model_file), route.numerical, route.categorical)
    app = flask.Flask("bench.plain")

    @app.post(route.path)
    def predict() -> Any:
        try:
            body = flask.request.get_json(force=True, silent=False)
        except Exception:
            return {"error": "the request body is not valid JSON"}, 400
        try:
            features = parse_features(body, route)
        except InputError as exc:
            return {"error": str(exc)}, 400
        request_id = body.get(route.id_field)
        answer = {"duration": round(model.predict(features), 2)}
        return answer | {route.id_field: request_id or uuid.uuid4().hex, "model_version": "plain"}

    return app


def added_latency(folder: Path, monitor_url: str, requests: int) -> list[str]:
    from threadpoolctl import threadpool_limits

    from modelmon.demo.service import close_app, create_app

    # as modelmon.demo.service.serve does: one row needs no OpenMP threads
    threadpool_limits(limits=1, user_api="openmp")
    apps = {"uninstrumented": plain_app(folder), "instrumented (create_app)": create_app(folder, monitor_url)}
    clients = {name: app.test_client() for name, app in apps.items()}
    bodies = [dict(event["features"], ride_id=event["id"]) for event in demo_events(folder, requests)]
    timings: dict[str, list[float]] = {name: [] for name in apps}
    for client in clients.values():  # warm up both
        for body in bodies[:200]:
            client.post("/predict", json=body)
    for i, body in enumerate(bodies):
        order = list(clients.items()) if i % 2 == 0 else list(reversed(clients.items()))
        for name, client in order:
            started = time.perf_counter()
            response = client.post("/predict", json=body)
            timings[name].append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(
                    f"{name}: /predict answered {response.status_code}: {response.data[:300]!r}"
                )
    close_app(apps["instrumented (create_app)"])
    lines = []
    summary = {}
    for name, values in timings.items():
        values.sort()
        summary[name] = (statistics.median(values) * 1000, values[int(0.99 * (len(values) - 1))] * 1000)
        lines.append(
            f"| /predict latency, Flask test client | {name} | {requests:,} requests | "
            f"median {summary[name][0]:.3f} ms, p99 {summary[name][1]:.3f} ms | |"
        )
    base, instrumented = summary["uninstrumented"], summary["instrumented (create_app)"]
    lines.append(
        f"| /predict added latency | instrumented - uninstrumented | {requests:,} interleaved pairs | "
        f"**median +{instrumented[0] - base[0]:.3f} ms, p99 +{instrumented[1] - base[1]:.3f} ms** "
        f"| < 0.2 ms median, < 1 ms p99 |"
    )
    return lines


def recompute_times(config_path: Path, window_rows: list[int], repeats: int = 7) -> list[str]:
    from modelmon.config import Window, load_config
    from modelmon.service.fitted_reference import load_reference
    from modelmon.service.model_monitor import ModelMonitor

    config = load_config(config_path).model(MODEL)
    reference = load_reference(config)
    events = demo_events(config_path.parent, 100_000)
    medians = {}
    lines = []
    for rows in window_rows:
        monitor = ModelMonitor(replace(config, window=Window(rows=rows)), reference)
        filled = 0
        while filled < rows:
            batch = events[: min(len(events), rows - filled)]
            monitor.ingest([dict(event, id=f"{filled}-{event['id']}") for event in batch])
            monitor.recompute()
            filled += len(batch)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            monitor.recompute()
            times.append(time.perf_counter() - started)
        medians[rows] = statistics.median(times)
        lines.append(
            f"| window recompute, no new rows | window of {rows:,} rows ({monitor.window.rows:,} held) | "
            f"median of {repeats} | {medians[rows] * 1000:.1f} ms | |"
        )
    small, large = medians[min(medians)], medians[max(medians)]
    lines.append(
        f"| window recompute ratio | {max(medians):,} rows / {min(medians):,} rows | | "
        f"**{large / small:.2f}x** | <= 2x |"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000, help="events posted in batches")
    parser.add_argument("--requests", type=int, default=10_000, help="single-event requests")
    parser.add_argument("--predictions", type=int, default=5_000, help="/predict requests per app")
    parser.add_argument("--window-rows", type=int, default=1_000_000, help="the large window")
    parser.add_argument("--demo-rows", type=int, default=5_000)
    parser.add_argument(
        "--anchor",
        type=Path,
        help="the src folder of an earlier checkout, measured first in the same run "
        "(e.g. git archive COMMIT src | tar -x -C bench/anchor)",
    )
    parser.add_argument(
        "--fsync",
        nargs="+",
        default=["group", "interval"],
        choices=["group", "interval"],
        help="journal modes",
    )
    args = parser.parse_args()
    from modelmon.demo.files import write_demo_files

    with tempfile.TemporaryDirectory(prefix="bench-online-", dir=ROOT / "bench") as folder:
        config = write_demo_files(folder, rows=args.demo_rows)
        events = demo_events(Path(folder), args.events)
        text = config.read_text()
        lines = []
        if args.anchor is not None:
            port = free_port()
            service = start_service(config, port, args.anchor.resolve())
            try:
                lines += ingest(port, service.pid, events, args.requests, f"default (anchor {args.anchor})")
            finally:
                stop_service(service)
            fresh_store(Path(folder))
        for mode in args.fsync:
            config.write_text(f"{text}\ningest: {{fsync: {mode}, journal_dir: journal-{mode}}}\n")
            port = free_port()
            service = start_service(config, port)
            try:
                lines += ingest(port, service.pid, events, args.requests, mode)
                if mode == args.fsync[-1] and args.predictions:
                    lines += added_latency(Path(folder), f"http://127.0.0.1:{port}", args.predictions)
            finally:
                stop_service(service)
            fresh_store(Path(folder))
        config.write_text(text)
        if args.window_rows:
            lines += recompute_times(config, [1000, args.window_rows])
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"| measure | setup | work | result | goal |  (cpus: {os.cpu_count()}, load average {load})")
    print("|---|---|---|---|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
