"""Growth curves: how time and memory grow with rows, columns, window size, models and processes.

    python -m bench.growth rows --rows 1000000 10000000 50000000 [--evidently-rows 1000000 10000000]
    python -m bench.growth columns --columns 20 200 1000 [--evidently]
    python -m bench.growth online --windows 1000 10000 100000 500000 --models 1 2 4 8
    python -m bench.growth ingest --processes 1 2
    python -m bench.growth plot        # the PNGs in bench/plots/ and the markdown tables

Each measurement is written to ``bench/results/growth_<curve>.json`` as it is taken; ``plot``
draws every curve measured so far (matplotlib, ``pip install 'modelmon[bench]'``).

- rows: ``modelmon report --sections drift`` of a current parquet file of N rows (the 20 columns of
  ``bench.datasets``, written in row groups, so no generator holds the file) against the 1M-row
  reference, in one process and with ``--workers 1`` and ``--workers 2``; Evidently beside it
  for the sizes given to ``--evidently-rows`` (given at most 10 minutes a run).
- columns: the same command on 100,000 x C float columns (``bench.wide``), three runs (median),
  Evidently beside it (one run, given at most 10 minutes).
- online: ``ModelMonitor.recompute()`` (no new rows) of one window of each size, and of all the
  windows of N models of 10,000 rows each, as the service's recompute loop does every refresh
  (median of 5). The demo model's file is left out: SHAP runs in its own thread once a minute.
- ingest: batched events (500 a request, 4 client threads) into P ``modelmon serve --models``
  processes, each owning its share of 4 models; client and servers share the machine's cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bench.datasets import DATA_DIR, frame
from bench.datasets import paths as drift_paths
from bench.harness import ROOT, Measurement, evidently_python, measure, python
from bench.scale import repeated, report_command

RESULTS = ROOT / "bench" / "results"
PLOTS = ROOT / "bench" / "plots"
GROUP_ROWS = 500_000
EVIDENTLY_TIMEOUT = 600
#: runs of each modelmon command of a few seconds (median time, largest peak)
REPEATS = 3


def _save(curve: str, key: str, value: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"growth_{curve}.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[key] = value
    path.write_text(json.dumps(data, indent=1, sort_keys=True))
    print(curve, key, value, flush=True)


def current_file(rows: int) -> Path:
    """A shifted current file of ``rows`` rows, written row group by row group when missing."""
    path = DATA_DIR / f"growth_current_{rows}.parquet"
    if path.exists():
        return path
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    writer = None
    for i, start in enumerate(range(0, rows, GROUP_ROWS)):
        table = pa.Table.from_pandas(
            frame(min(GROUP_ROWS, rows - start), 100 + i, True), preserve_index=False
        )
        writer = writer or pq.ParquetWriter(partial, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()
    partial.rename(path)
    return path


def _point(result: Measurement) -> dict[str, Any]:
    drifted = sum(column["detected"] for column in result.output["columns"].values())
    return {"seconds": round(result.seconds, 2), "peak_mib": round(result.peak_mib), "drifted": drifted}


def rows_curve(sizes: list[int], evidently_rows: list[int]) -> None:
    reference = str(drift_paths(1_000_000)[0])
    for rows in sizes:
        current = str(current_file(rows))
        for label, extra in (
            ("one process", []),
            ("dask 1 worker", ["--workers", "1"]),
            ("dask 2 workers", ["--workers", "2"]),
        ):
            _save("rows", f"{label}|{rows}", _point(report_command(reference, current, *extra)))
        if rows in evidently_rows:
            _save("rows", f"Evidently 0.7|{rows}", _evidently_point(reference, current))


def columns_curve(widths: list[int], evidently: bool, rows: int = 100_000) -> None:
    from bench.wide import paths

    for columns in widths:
        reference, current = (str(path) for path in paths(rows, columns))
        result = repeated(lambda r=reference, c=current: report_command(r, c), REPEATS)
        _save("columns", f"modelmon report|{columns}", _point(result))
        if evidently:
            _save("columns", f"Evidently 0.7|{columns}", _evidently_point(reference, current))


def _evidently_point(reference: str, current: str) -> dict[str, Any]:
    """Evidently's DataDriftPreset on the same files, given at most 10 minutes."""
    command = [evidently_python(), "bench/evidently_drift.py", reference, current]
    try:
        return _point(measure(command, timeout=EVIDENTLY_TIMEOUT))
    except TimeoutError:
        return {"seconds": None, "note": "did not finish in 10 minutes"}


def _filled_monitor(config: Any, reference: Any, events: list[dict[str, Any]], rows: int, tag: str) -> Any:
    from modelmon.config import Window
    from modelmon.service.model_monitor import ModelMonitor

    monitor = ModelMonitor(replace(config, window=Window(rows=rows)), reference)
    filled = 0
    while filled < rows:
        batch = events[: min(len(events), rows - filled)]
        monitor.ingest([dict(event, id=f"{tag}-{filled}-{event['id']}") for event in batch])
        monitor.recompute()
        filled += len(batch)
    return monitor


def _median_seconds(work: Any, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def online_curve(windows: list[int], models: list[int]) -> None:
    from bench.online import MODEL, demo_events
    from modelmon.config import load_config
    from modelmon.demo.files import write_demo_files
    from modelmon.service.fitted_reference import load_reference

    with tempfile.TemporaryDirectory(prefix="bench-growth-") as folder:
        config_path = write_demo_files(folder, rows=5_000)
        # without the model file: SHAP runs apart, in its own thread once a minute, not in the loop
        config = replace(load_config(config_path).model(MODEL), model_file=None)
        reference = load_reference(config)
        events = demo_events(Path(folder), 100_000)
        for rows in windows:
            monitor = _filled_monitor(config, reference, events, rows, "w")
            _save("online", f"window|{rows}", {"ms": round(1000 * _median_seconds(monitor.recompute), 2)})
        monitors = [_filled_monitor(config, reference, events, 10_000, f"m{i}") for i in range(max(models))]
        for count in models:
            chosen = monitors[:count]
            seconds = _median_seconds(lambda chosen=chosen: [monitor.recompute() for monitor in chosen])
            _save("online", f"models|{count}", {"ms": round(1000 * seconds, 2)})


def ingest_curve(processes: list[int], total: int = 200_000, model_count: int = 4) -> None:
    import yaml

    from bench.online import BATCH, demo_events, free_port, post_all, settle, stop_service
    from modelmon.demo.files import write_demo_files
    from modelmon.demo.stack import wait_for_http

    with tempfile.TemporaryDirectory(prefix="bench-growth-") as folder:
        config_path = write_demo_files(folder, rows=5_000)
        data = yaml.safe_load(config_path.read_text())
        taxi = data["models"]["taxi-duration"]
        taxi.pop("model_file", None)
        data["models"] = {f"taxi-{i}": taxi for i in range(model_count)}
        names = list(data["models"])
        events = demo_events(Path(folder), total)
        for count in processes:
            data["store"] = f"sqlite:///{Path(folder) / f'ingest-{count}.db'}"
            shard_config = Path(folder) / f"ingest-{count}.yml"
            shard_config.write_text(yaml.safe_dump(data))
            owners = {name: i % count for i, name in enumerate(names)}
            ports = [free_port() for _ in range(count)]
            services = []
            for i, port in enumerate(ports):
                mine = ",".join(name for name in names if owners[name] == i)
                command = [
                    python(),
                    "-m",
                    "modelmon",
                    "serve",
                    "--config",
                    str(shard_config),
                    "--port",
                    str(port),
                ]
                services.append(
                    subprocess.Popen(
                        [*command, "--models", mine],
                        cwd=folder,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
            try:
                for port, service in zip(ports, services, strict=True):
                    assert wait_for_http(
                        f"http://127.0.0.1:{port}/health", 120, lambda s=service: s.poll() is None
                    )
                bodies: dict[int, list[bytes]] = {port: [] for port in ports}
                paths: dict[int, list[str]] = {port: [] for port in ports}
                for j, start in enumerate(range(0, total, BATCH)):
                    name = names[j % len(names)]
                    port = ports[owners[name]]
                    bodies[port].append(json.dumps({"events": events[start : start + BATCH]}).encode())
                    paths[port].append(f"/v1/models/{name}/events")
                for service in services:
                    settle(service.pid)
                seconds = _post_shards(bodies, paths, post_all)
                _save(
                    "ingest",
                    f"processes|{count}",
                    {"events_per_s": round(total / seconds), "seconds": round(seconds, 2)},
                )
            finally:
                for service in services:
                    stop_service(service)


def _post_shards(bodies: dict[int, list[bytes]], paths: dict[int, list[str]], post_all: Any) -> float:
    """Post every shard's batches at once (4 client threads in all); wall seconds."""
    import http.client
    import threading

    jobs = [
        (port, path, body) for port in bodies for path, body in zip(paths[port], bodies[port], strict=True)
    ]
    failures: list[str] = []

    def work(share: list[tuple[int, str, bytes]]) -> None:
        connections: dict[int, http.client.HTTPConnection] = {}
        for port, path, body in share:
            connection = connections.setdefault(
                port, http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            )
            connection.request("POST", path, body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            answer = response.read()
            if response.status != 200:
                failures.append(f"{response.status}: {answer[:200]!r}")

    threads = [threading.Thread(target=work, args=(jobs[i::4],)) for i in range(4)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, first: {failures[0]}")
    return time.perf_counter() - started


def plot() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    PLOTS.mkdir(parents=True, exist_ok=True)
    for curve, x_label, value, unit in (
        ("rows", "current rows", "seconds", "s"),
        ("columns", "float columns (100,000 rows)", "seconds", "s"),
        ("online", "window rows / models", "ms", "ms"),
        ("ingest", "service processes", "events_per_s", "events/s"),
    ):
        path = RESULTS / f"growth_{curve}.json"
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        series: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for key, point in data.items():
            label, _, x = key.partition("|")
            series.setdefault(label, []).append((int(x), point))
        memory = curve in ("rows", "columns")
        split = curve == "online"  # window rows and model counts on axes of their own
        panels = 2 if memory or split else 1
        figure, axes = plt.subplots(1, panels, figsize=(11 if panels == 2 else 6, 4), squeeze=False)
        print(f"\n{curve}:\n\n| series | x | {value} |" + (" peak MiB |" if memory else ""))
        print("|---|---|---|" + ("---|" if memory else ""))
        for label, points in sorted(series.items()):
            points.sort()
            done = [(x, point) for x, point in points if point.get(value) is not None]
            for x, point in points:
                shown = point.get(value) if point.get(value) is not None else point.get("note", "-")
                print(
                    f"| {label} | {x:,} | {shown} |" + (f" {point.get('peak_mib', '-')} |" if memory else "")
                )
            if not done:
                continue
            axis = axes[0][1] if split and label == "models" else axes[0][0]
            axis.plot([x for x, _ in done], [p[value] for _, p in done], marker="o", label=label)
            if memory:
                axes[0][1].plot(
                    [x for x, _ in done], [p["peak_mib"] for _, p in done], marker="o", label=label
                )
        if split:
            axes[0][0].set(xlabel="window rows", ylabel=unit, title="recompute of one window")
            axes[0][1].set(xlabel="models (10,000-row windows)", ylabel=unit, title="recompute of all")
            axes[0][0].set_xscale("log")
        else:
            axes[0][0].set(xlabel=x_label, ylabel=unit, title=f"{value} vs {x_label}")
        if memory:
            axes[0][1].set(xlabel=x_label, ylabel="MiB", title="peak memory")
        for axis in axes[0]:
            if curve in ("rows", "columns"):
                axis.set_xscale("log")
            axis.legend()
            axis.grid(alpha=0.3)
        figure.tight_layout()
        figure.savefig(PLOTS / f"growth_{curve}.png", dpi=90)
        plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="curve", required=True)
    rows = commands.add_parser("rows")
    rows.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000, 50_000_000])
    rows.add_argument("--evidently-rows", type=int, nargs="*", default=[1_000_000])
    columns = commands.add_parser("columns")
    columns.add_argument("--columns", type=int, nargs="+", default=[20, 200, 1000])
    columns.add_argument("--evidently", action="store_true")
    online = commands.add_parser("online")
    online.add_argument("--windows", type=int, nargs="+", default=[1000, 10_000, 100_000, 500_000])
    online.add_argument("--models", type=int, nargs="+", default=[1, 2, 4, 8])
    ingest = commands.add_parser("ingest")
    ingest.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    commands.add_parser("plot")
    args = parser.parse_args()
    if args.curve == "rows":
        rows_curve(args.rows, args.evidently_rows)
    elif args.curve == "columns":
        columns_curve(args.columns, args.evidently)
    elif args.curve == "online":
        online_curve(args.windows, args.models)
    elif args.curve == "ingest":
        ingest_curve(args.processes)
    else:
        plot()


if __name__ == "__main__":
    main()
