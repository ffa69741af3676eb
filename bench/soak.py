"""A bounded soak of the monitoring service: steady traffic on loopback, memory, refresh and loss.

    python -m bench.soak [--minutes 3] [--rate 500] [--batch 50]

``modelmon serve`` runs as a subprocess with the demo config and its SQLite store; a sender posts
``--rate`` events per second (batches of ``--batch``, every id new) for ``--minutes``, waiting out a
503 as its ``Retry-After`` says, as the client does. Every second the service's resident memory
(``VmRSS``), its ``/health`` status and the window's ``computed_at`` are read. At the end the store
is counted: events lost (acknowledged but not stored) and stored twice must both be 0.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import tempfile
import threading
import time
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from bench.harness import ROOT
from bench.online import MODEL, demo_events, free_port, start_service, stop_service


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _get(port: int, path: str) -> Any:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


class Sender:
    """Posts batches at a steady rate; counts acknowledged events and 503s."""

    def __init__(self, port: int, events: list[dict[str, Any]], rate: int, batch: int) -> None:
        self.port, self.events, self.rate, self.batch = port, events, rate, batch
        self.acknowledged: list[str] = []
        self.busy = 0
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        path = f"/v1/models/{MODEL}/events"
        interval = self.batch / self.rate
        next_at, sent = time.monotonic(), 0
        while not self.stop.is_set():
            chunk = [
                dict(self.events[(sent + i) % len(self.events)], id=f"soak-{sent + i}")
                for i in range(self.batch)
            ]
            body = json.dumps({"events": chunk}).encode()
            while not self.stop.is_set():
                connection.request("POST", path, body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                answer = response.read()
                if response.status != 503:
                    break
                self.busy += 1
                time.sleep(float(response.getheader("Retry-After") or 1))
            if response.status == 200:
                self.acknowledged += [event["id"] for event in chunk]
            else:
                self.errors.append(f"{response.status}: {answer[:200]!r}")
            sent += self.batch
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
        connection.close()


def soak(minutes: float, rate: int, batch: int) -> list[str]:
    from modelmon.config import load_config
    from modelmon.demo.files import write_demo_files
    from modelmon.store import open_store

    with tempfile.TemporaryDirectory(prefix="bench-soak-", dir=ROOT / "bench") as folder:
        config_path = write_demo_files(folder, rows=5000)
        config = load_config(config_path)
        refresh = config.models[MODEL].refresh_seconds
        # the demo config names the SQLite file relative to the service's working directory, the folder
        store_url = config.store.replace("sqlite:///", f"sqlite:///{folder}/", 1)
        events = demo_events(Path(folder), 20_000)
        port = free_port()
        service = start_service(config_path, port)
        samples: list[tuple[float, float, str, str | None]] = []
        sender = Sender(port, events, rate, batch)
        thread = threading.Thread(target=sender.run, daemon=True)
        started = time.monotonic()
        try:
            thread.start()
            while time.monotonic() - started < minutes * 60:
                summary = _get(port, f"/v1/models/{MODEL}/summary")
                health = _get(port, "/health")
                samples.append(
                    (
                        time.monotonic() - started,
                        _rss_mib(service.pid),
                        health["status"],
                        summary.get("computed_at"),
                    )
                )
                time.sleep(1)
            sender.stop.set()
            thread.join(60)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and _get(port, "/health")["store"]["backlog"]:
                time.sleep(0.5)
            final_health = _get(port, "/health")
        finally:
            stop_service(service)
        with open_store(store_url) as store:
            stored = [value for frame in store.events.read_frames(MODEL) for value in frame["id"]]
    acknowledged = set(sender.acknowledged)
    lost = len(acknowledged - set(stored))
    twice = len(stored) - len(set(stored))
    stamps = sorted({datetime.fromisoformat(stamp) for _, _, _, stamp in samples if stamp})
    periods = [(later - earlier).total_seconds() for earlier, later in pairwise(stamps)]
    rss = [memory for _, memory, _, _ in samples]
    statuses = sorted({status for _, _, status, _ in samples})
    half = len(rss) // 2
    return [
        f"| soak, {minutes:g} min at {rate} events/s (batches of {batch}) | events acknowledged | "
        f"**{len(acknowledged):,}** ({len(acknowledged) / (minutes * 60):,.0f}/s) | |",
        f"| | lost (acknowledged, not stored) / stored twice | **{lost} / {twice}** | 0 / 0 |",
        f"| | answered 503 (waited out, sent again) / other errors | {sender.busy} / "
        f"{len(sender.errors)} | |",
        f"| | resident memory first / median of 2nd half / last sample | "
        f"{rss[0]:.0f} / {statistics.median(rss[half:]):.0f} / {rss[-1]:.0f} MiB | flat |",
        f"| | window refresh period (computed_at moves) median / max | "
        f"{statistics.median(periods):.1f} / {max(periods):.1f} s "
        f"(refresh_seconds {refresh:g}) | |"
        if periods
        else "| | window refresh period | no refresh seen | |",
        f"| | /health statuses seen / at the end | {', '.join(statuses)} / {final_health['status']} | |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--rate", type=int, default=500, help="events per second")
    parser.add_argument("--batch", type=int, default=50, help="events per request")
    args = parser.parse_args()
    lines = soak(args.minutes, args.rate, args.batch)
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"| measure | what | result | goal |  (cpus: {os.cpu_count()}, load average after: {load})")
    print("|---|---|---|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
