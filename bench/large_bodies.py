"""Large bodies at once against ``modelmon serve``: peak memory, ``/health``, answers; commits side by side.

    python -m bench.large_bodies HEAD~1 HEAD --runs 2

Each commit is checked out into a temporary worktree and served (``modelmon serve``, SQLite store)
with that worktree first on ``PYTHONPATH``; the commits take turns, ``--runs`` times each, and
every run sends the same mixes of bodies to a fresh service:

- ``alone``: one body of 9.5 MiB (320,000 of the smallest valid events, the most objects a body
  within the 10 MiB limit can make);
- ``six``: six such bodies at once;
- ``mixed``: two such bodies with 200 small batches (100 events each) at once;
- ``records``: one body of 10 MiB of empty ``/iterate`` records (``[{},{},...]``, 3.5 million):
  the most items a body of the size limit can hold.

Each mix starts once the store has every event of the earlier ones; while it is sent, ``/health``
is asked every 0.2 s. Prints, per commit and mix, the service's
peak resident memory (``VmHWM``; the mixes run in this order, so each peak includes the earlier
mixes'), the slowest ``/health``, the answers by status and the seconds until the last answer.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.harness import ROOT, python
from bench.versions import _worktree

#: the smallest valid events (31 bytes each): the most objects a body of the 10 MiB limit can make
LARGE_EVENTS = 320_000
MIXES = ("alone", "six", "mixed", "records")


def large_body(events: int = LARGE_EVENTS) -> bytes:
    """A batch of ``events`` of the smallest valid event, as JSON bytes (320,000 make 9.5 MiB)."""
    return b'{"events":[' + b",".join([b'{"features":{},"prediction":1}'] * events) + b"]}"


def write_config(folder: Path) -> Path:
    """A config of one model ``m`` (a numerical ``x``, a prediction ``y``) with its reference."""
    lines = ["x,y", *(f"{i % 97},{i % 5}" for i in range(500))]
    (folder / "reference.csv").write_text("\n".join(lines) + "\n")
    model = {"task": "regression", "reference": "reference.csv", "numerical": ["x"], "prediction": "y"}
    config = {"store": f"sqlite:///{folder / 'store.db'}", "models": {"m": model}}
    path = folder / "modelmon.yml"
    path.write_text(json.dumps(config))
    return path


def records_body(size: int = 10 * 2**20) -> bytes:
    """An ``/iterate`` body of empty records (3 bytes each) just within ``size`` bytes."""
    return b"[" + b",".join([b"{}"] * ((size - 2) // 3)) + b"]"


def post(port: int, body: bytes, timeout: float = 600.0) -> tuple[int, str | None, float]:
    """POST a batch to model ``m`` (a list of records to ``/iterate/m``, else to its events):
    (status, Retry-After, seconds); status 0 when the connection failed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    path = "/iterate/m" if body.startswith(b"[") else "/v1/models/m/events"
    started = time.perf_counter()
    try:
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("Retry-After"), time.perf_counter() - started
    except OSError:
        return 0, None, time.perf_counter() - started
    finally:
        connection.close()


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory so far (``VmHWM``), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def health_seconds(port: int) -> float:
    """Seconds ``/health`` took to answer 200 (``inf`` when it did not within 30 s)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.perf_counter()
    try:
        connection.request("GET", "/health")
        response = connection.getresponse()
        response.read()
        return time.perf_counter() - started if response.status == 200 else float("inf")
    except OSError:
        return float("inf")
    finally:
        connection.close()


def wait_until_stored(port: int, timeout: float = 600.0) -> None:
    """Until ``/health`` says no accepted event waits for the store."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", "/health")
            if json.loads(connection.getresponse().read())["store"]["backlog"] == 0:
                return
        time.sleep(0.5)
    raise RuntimeError(f"events still wait for the store after {timeout:.0f} s")


def send_mix(port: int, bodies: list[bytes]) -> dict[str, Any]:
    """Send ``bodies`` at once while polling ``/health``; the answers and the slowest ``/health``."""
    done = threading.Event()
    polls: list[float] = []

    def poll() -> None:
        while not done.is_set():
            polls.append(health_seconds(port))
            done.wait(0.2)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    started = time.perf_counter()
    with ThreadPoolExecutor(len(bodies)) as pool:
        answers = list(pool.map(lambda body: post(port, body), bodies))
    seconds = time.perf_counter() - started
    done.set()
    poller.join(60)
    return {"answers": answers, "seconds": seconds, "slowest_health": max(polls, default=0.0)}


def mix_bodies(mix: str, large: bytes) -> list[bytes]:
    if mix == "alone":
        return [large]
    if mix == "six":
        return [large] * 6
    if mix == "records":
        return [records_body()]
    small = [large_body(100) for _ in range(200)]
    return [large, large, *small]


def _serve(source: Path | None, config: Path, port: int) -> subprocess.Popen[bytes]:
    env = None if source is None else {**os.environ, "PYTHONPATH": str(source)}
    command = [python(), "-m", "modelmon", "serve", "--config", str(config), "--port", str(port)]
    log = (config.parent / "serve.log").open("ab")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=config.parent)
    deadline = time.monotonic() + 300  # a loaded machine can take a minute to import and start it
    while health_seconds(port) == float("inf"):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError(
                f"modelmon serve did not start: {(config.parent / 'serve.log').read_text()[-2000:]}"
            )
        time.sleep(0.2)
    return process


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_once(source: Path | None, folder: Path, large: bytes) -> dict[str, dict[str, Any]]:
    """Every mix, in order, against one fresh service of ``source`` (None: this checkout's)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = write_config(folder)
    port = _free_port()
    process = _serve(source, config, port)
    results: dict[str, dict[str, Any]] = {}
    try:
        for mix in MIXES:
            wait_until_stored(port)  # each mix starts with the store writer idle
            result = send_mix(port, mix_bodies(mix, large))
            result["peak_mib"] = peak_rss_mib(process.pid)
            results[mix] = result
    finally:
        process.terminate()
        process.wait(60)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("commits", nargs="*", help="commits to compare (none: this checkout only)")
    parser.add_argument("--runs", type=int, default=1, help="runs of each commit")
    args = parser.parse_args()
    large = large_body()
    print(f"large body: {len(large) / 2**20:.2f} MiB, {LARGE_EVENTS:,} events", file=sys.stderr)
    with tempfile.TemporaryDirectory() as folder:
        sources: dict[str, Path | None] = {}
        try:
            for number, commit in enumerate(args.commits):
                sources[commit] = _worktree(commit, Path(folder) / f"v{number}")
            if not sources:
                sources["this checkout"] = None
            runs: dict[str, list[dict[str, dict[str, Any]]]] = {name: [] for name in sources}
            for run in range(args.runs):
                for name, source in sources.items():
                    runs[name].append(
                        run_once(source, Path(folder) / f"run-{run}-{len(runs[name])}-{id(name)}", large)
                    )
        finally:
            for source in sources.values():
                if source is not None:
                    subprocess.run(
                        ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(source.parent)]
                    )
    print(f"`python -m bench.large_bodies {' '.join(args.commits)} --runs {args.runs}`, runs interleaved")
    print("| commit | mix | peak RSS MiB | slowest /health s | answers | seconds to the last answer |")
    print("|---|---|---|---|---|---|")
    for name, measured in runs.items():
        for run in measured:
            for mix, result in run.items():
                statuses = Counter(status for status, _, _ in result["answers"])
                shown = ", ".join(
                    f"{count} x {status or 'failed'}" for status, count in sorted(statuses.items())
                )
                print(
                    f"| {name} | {mix} | {result['peak_mib']:.0f} | {result['slowest_health']:.2f} "
                    f"| {shown} | {result['seconds']:.1f} |"
                )


if __name__ == "__main__":
    main()
