"""Many models in one ``modelmon serve``: start time, CPU under traffic and idle, memory, scrape.

    python -m bench.many_models --models 1 10 50 100 200 [--anchor COMMIT --anchor-models 1 10 50]
    python -m bench.many_models --separate-references 50
    python -m bench.many_models memory [--anchor COMMIT]   # RSS per model, full 10,000-row windows
    python -m bench.many_models plot

N copies of the demo taxi model (windows of 10,000 rows, refresh 5 s, without the model file:
SHAP runs apart, once a minute a model, in threads of its own) in one service process with a
SQLite store and the default journal (``fsync: interval``), all naming the same reference file
(``--separate-references``: a copy of it per model). For each N, one after the other:

- start: seconds from the process start to ``/health`` answering ``ok`` (references fitted,
  windows rebuilt), and the CPU seconds the process used by then (which a loaded machine does not
  stretch);
- traffic: 2,000 events/s in total for ``--seconds`` (batches of 100 events from 4 client
  threads, the models in turn), after as long again to let the first recomputes pass: the
  process's CPU (cores), and whether ``/health`` said a recompute was stale;
- idle: as long with no traffic: the process's CPU;
- memory: the process's RSS after the traffic, per model beside one model's;
- scrape: ``GET /metrics`` seconds and the CPU seconds the process used meanwhile (medians of 3),
  and its series count.

``memory`` holds ``--memory-models`` models (5) in one process (not a service), sharing one fitted
reference, each with its 10,000-row window full and moved on by a fortieth (its running totals then
hold the most sums), and divides the RSS they added by their number; with ``--anchor``, the same
for that commit's code, in a process of its own.

``--anchor COMMIT`` runs the same for that commit's code (``--anchor-models`` of them: start-up of
the earlier code takes about 1.5 s a model). Results go to ``bench/results/many_models.json``;
``plot`` draws ``bench/plots/growth_models.png`` and prints the table.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.harness import ROOT

RESULTS = ROOT / "bench" / "results" / "many_models.json"
PLOT = ROOT / "bench" / "plots" / "growth_models.png"
BATCH = 100
TICK = os.sysconf("SC_CLK_TCK")


def _cpu(path: str) -> float:
    with open(path, encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _get(port: int, path: str, timeout: float = 60) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _wait_ok(port: int, service: subprocess.Popen[bytes], limit: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if service.poll() is not None:
            raise RuntimeError("modelmon serve stopped")
        try:
            status, body = _get(port, "/health", timeout=5)
            if status == 200 and json.loads(body)["status"] == "ok":
                return time.monotonic() - started
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"modelmon serve was not ok within {limit} s")


def _traffic(
    port: int, names: list[str], bodies: list[bytes], rate: float, seconds: float
) -> tuple[int, int]:
    """Post batches at ``rate`` events/s in total, the models in turn; the events accepted and the
    batches answered 503 (the service's back-pressure: counted, not sent again)."""
    sent, refused = [0], [0]
    stop = time.monotonic() + seconds
    lock = threading.Lock()
    next_batch = [0]
    failures: list[str] = []

    def work() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                number = next_batch[0]
                next_batch[0] += 1
            due = start + number * BATCH / rate
            if due > stop:
                break
            time.sleep(max(0.0, due - time.monotonic()))
            name = names[number % len(names)]
            connection.request(
                "POST",
                f"/v1/models/{name}/events",
                bodies[number % len(bodies)],
                {"Content-Type": "application/json"},
            )
            response = connection.getresponse()
            response.read()
            if response.status == 503:  # the service's back-pressure (journal slow, backlog full)
                with lock:
                    refused[0] += 1
            elif response.status != 200:
                failures.append(str(response.status))
            else:
                with lock:
                    sent[0] += BATCH
        connection.close()

    start = time.monotonic()
    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} batches failed, first status {failures[0]}")
    return sent[0], refused[0]


def _config(folder: Path, count: int, separate: bool) -> Path:
    import yaml

    data = yaml.safe_load((folder / "modelmon.yml").read_text())
    taxi = data["models"]["taxi-duration"]
    taxi.pop("model_file", None)
    taxi["window"] = {"rows": 10_000}
    taxi["refresh_seconds"] = 5
    models = {}
    for i in range(count):
        model = dict(taxi)
        if separate:
            copy = folder / f"reference-{i}.parquet"
            shutil.copyfile(folder / taxi["reference"], copy)
            model["reference"] = copy.name
        models[f"taxi-{i}"] = model
    data["models"] = models
    data["store"] = f"sqlite:///{folder / f'many-{count}-{separate}.db'}"
    data.pop("ingest", None)
    path = folder / f"many-{count}-{separate}.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def measure(
    folder: Path, count: int, source: Path | None, separate: bool, rate: float, seconds: float
) -> dict:
    from bench.online import demo_events, free_port

    config = _config(folder, count, separate)
    events = demo_events(folder, 20 * BATCH)
    bodies = [
        json.dumps(
            {"events": [dict(e, id=f"{b}-{e['id']}") for e in events[b * BATCH : (b + 1) * BATCH]]}
        ).encode()
        for b in range(20)
    ]
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(source)) if source is not None else None
    command = [
        str(Path(sys.executable).parent / "modelmon"),
        "serve",
        "--config",
        str(config),
        "--port",
        str(port),
    ]
    service = subprocess.Popen(
        command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    try:
        start = _wait_ok(port, service, limit=900)
        start_cpu = _cpu(f"/proc/{service.pid}/stat")  # what a loaded machine cannot stretch
        names = [f"taxi-{i}" for i in range(count)]
        # ids differ per round, so no batch is a resend
        _traffic(port, names, bodies, rate, seconds)  # the first recomputes of every model pass
        before, wall = _cpu(f"/proc/{service.pid}/stat"), time.monotonic()
        rebodies = [body.replace(b'"id": "', b'"id": "r') for body in bodies]
        sent, refused = _traffic(port, names, rebodies, rate, seconds)
        elapsed = time.monotonic() - wall
        busy = (_cpu(f"/proc/{service.pid}/stat") - before) / elapsed
        health = json.loads(_get(port, "/health")[1])
        stale = [reason for reason in health["reasons"] if "stale" in json.dumps(reason)]
        rss = _rss_mib(service.pid)
        # the store has every event and one refresh has passed: then nothing is new
        deadline = time.monotonic() + 300
        while json.loads(_get(port, "/health")[1])["store"]["backlog"] and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(6)
        before, wall = _cpu(f"/proc/{service.pid}/stat"), time.monotonic()
        time.sleep(seconds)
        idle = (_cpu(f"/proc/{service.pid}/stat") - before) / (time.monotonic() - wall)
        scrapes, scrape_cpu, series = [], [], 0
        for _ in range(3):
            begun, cpu = time.perf_counter(), _cpu(f"/proc/{service.pid}/stat")
            _, body = _get(port, "/metrics")
            scrapes.append(time.perf_counter() - begun)
            scrape_cpu.append(_cpu(f"/proc/{service.pid}/stat") - cpu)
            series = sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))
        return {
            "start_s": round(start, 1),
            "start_cpu_s": round(start_cpu, 1),
            "events_per_s": round(sent / elapsed),
            "refused_batches": refused,
            "cores_traffic": round(busy, 3),
            "cores_idle": round(idle, 3),
            "stale": len(stale),
            "rss_mib": round(rss),
            "scrape_s": round(statistics.median(scrapes), 3),
            "scrape_cpu_s": round(statistics.median(scrape_cpu), 3),
            "series": series,
        }
    finally:
        service.terminate()
        service.wait(timeout=60)


def _save(key: str, point: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data[key] = point
    RESULTS.write_text(json.dumps(data, indent=1, sort_keys=True))
    print(key, point, flush=True)


def run(args: argparse.Namespace) -> None:
    from bench.versions import _worktree
    from modelmon.demo.files import write_demo_files

    with tempfile.TemporaryDirectory(prefix="bench-many-") as temporary:
        folder = Path(temporary)
        write_demo_files(folder, rows=5_000)
        runs: list[tuple[str, Path | None, int, bool]] = [
            ("this checkout", None, n, False) for n in args.models
        ]
        anchor = None
        if args.anchor:
            anchor = _worktree(args.anchor, folder / "anchor")
            runs = [
                run
                for n in sorted(set(args.models) | set(args.anchor_models))
                for run in ([("this checkout", None, n, False)] if n in args.models else [])
                + ([(args.anchor, anchor, n, False)] if n in args.anchor_models else [])
            ]
        runs += [("this checkout", None, n, True) for n in args.separate_references]
        try:
            for label, source, count, separate in runs:
                key = f"{label}{' separate references' if separate else ''}|{count}"
                _save(key, measure(folder, count, source, separate, args.rate, args.seconds))
        finally:
            if anchor is not None:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(anchor.parent)])


def memory(count: int, anchor: str | None, window_rows: int = 10_000) -> None:
    """RSS per model of ``count`` models with full windows, this checkout beside ``anchor``."""
    from bench.versions import _worktree

    with tempfile.TemporaryDirectory(prefix="bench-many-") as temporary:
        sources = {"this checkout": ROOT / "src"}
        if anchor:
            sources[anchor] = _worktree(anchor, Path(temporary) / "anchor")
        try:
            for label, source in sources.items():
                command = [sys.executable, "-m", "bench.many_models", "memory-worker", str(count)]
                env = {**os.environ, "PYTHONPATH": f"{source}{os.pathsep}{ROOT}"}
                done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
                point = json.loads(done.stdout.splitlines()[-1])
                _save(f"memory per model, {label}|{window_rows}", point)
        finally:
            if anchor:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(Path(temporary) / "anchor")]
                )


def _memory_worker(count: int, window_rows: int = 10_000) -> None:
    """Print the RSS ``count`` demo models sharing one fitted reference add, per model, once each
    window is full and has moved on by a fortieth (so the window's running totals hold their most
    sums); one model filled first, so the shared parts and the allocator's pools are counted out."""
    from dataclasses import replace

    from bench.online import demo_events
    from modelmon.config import Window, load_config
    from modelmon.demo.files import write_demo_files
    from modelmon.service.fitted_reference import ReferenceCache
    from modelmon.service.model_monitor import ModelMonitor

    with tempfile.TemporaryDirectory(prefix="bench-many-") as temporary:
        folder = Path(temporary)
        config = load_config(write_demo_files(folder, rows=5_000)).model("taxi-duration")
        config = replace(config, model_file=None, window=Window(rows=window_rows))
        events = demo_events(folder, window_rows + window_rows // 40)
        shared = ReferenceCache().get(config)

        def filled(name: str) -> ModelMonitor:
            monitor = ModelMonitor(replace(config, name=name), fitted=shared)
            for start in range(0, len(events), 500):  # as a service recomputes under traffic
                monitor.ingest([dict(e, id=f"{name}-{e['id']}") for e in events[start : start + 500]])
                monitor.recompute()
            return monitor

        monitors = [filled("first")]
        before = _rss_mib(os.getpid())
        monitors += [filled(f"taxi-{i}") for i in range(count)]
        per_model = (_rss_mib(os.getpid()) - before) / count
        assert min(monitor.window.rows for monitor in monitors) >= window_rows * 0.95
        print(json.dumps({"models": count, "rss_mib_per_model": round(per_model, 1)}))


def plot() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = json.loads(RESULTS.read_text())
    series: dict[str, list[tuple[int, dict]]] = {}
    for key, point in data.items():
        label, _, count = key.partition("|")
        if label.startswith("memory"):
            print(f"{label}, {count}-row windows: {point}")
            continue
        series.setdefault(label, []).append((int(count), point))
    panels = [
        ("start_s", "start-up s"),
        ("cores_traffic", "cores at 2,000 events/s"),
        ("cores_idle", "cores idle"),
        ("rss_mib", "RSS MiB"),
        ("scrape_s", "/metrics s"),
    ]
    figure, axes = plt.subplots(1, len(panels), figsize=(18, 3.6))
    print(
        "| code | models | start s | start CPU s | events/s | cores (traffic) | cores (idle) "
        "| stale | RSS MiB | /metrics s | /metrics CPU s | series |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for label, points in sorted(series.items()):
        points.sort()
        for count, p in points:
            print(
                f"| {label} | {count} | {p['start_s']} | {p.get('start_cpu_s', '-')} "
                f"| {p['events_per_s']:,} | {p['cores_traffic']} "
                f"| {p['cores_idle']} | {p['stale']} | {p['rss_mib']} "
                f"| {p['scrape_s']} | {p.get('scrape_cpu_s', '-')} | {p['series']:,} |"
            )
        for axis, (name, title) in zip(axes, panels, strict=True):
            axis.plot([c for c, _ in points], [p[name] for _, p in points], marker="o", label=label)
            axis.set(xlabel="models", title=title)
            axis.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(PLOT, dpi=80)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "action", nargs="?", choices=["run", "memory", "memory-worker", "plot"], default="run"
    )
    parser.add_argument("count", nargs="?", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--models", type=int, nargs="*", default=[1, 10, 50, 100, 200])
    parser.add_argument("--anchor", help="a commit to run beside this checkout")
    parser.add_argument("--anchor-models", type=int, nargs="*", default=[1, 10, 50])
    parser.add_argument("--separate-references", type=int, nargs="*", default=[])
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--memory-models", type=int, default=5)
    args = parser.parse_args()
    if args.action == "plot":
        plot()
    elif args.action == "memory":
        memory(args.memory_models, args.anchor)
    elif args.action == "memory-worker":
        _memory_worker(args.count)
    else:
        run(args)


if __name__ == "__main__":
    main()
