"""Where durable ingest's time goes: CPU microseconds per event of each stage, in one process.

    python -m bench.ingest_stages [--batch 500] [--batches 40] [--fsync interval]
                                  [--ids uuid] [--stored 400000]

The demo taxi model's events (ids never sent before) go through the stages a batch of
``POST /v1/models/{model}/events`` goes through in ``modelmon serve``, each timed on its own
(process CPU time, so a loaded machine stretches wall time but not these figures), on ``--batches``
batches of ``--batch`` events:

- parse: the body's bytes to objects (``parse_json``: orjson and the nesting and 64-bit scan);
- check: each event checked and turned into a window row and a store document (``ModelMonitor.check``);
- journal record: the batch's journal record (``entry_line``: JSON, framing and checksum);
- journal write: the record appended to a segment and answered (``Journal.append`` with ``--fsync``);
- accept: the rows queued for the window, ids deduplicated, latencies binned (``ModelMonitor.accept``);
- store: every batch's documents written to a SQLite store 5,000 at a time, as the store
  writer takes them (``add_events``, off the request path); the store is fresh, or holds
  ``--stored`` events written before (not timed). Event ids are ``b<batch>-<index>`` or, with
  ``--ids uuid``, random as the client's (``uuid4().hex``): random ids land all over the store's
  unique index of ids, whose pages a write then has to change, where ordered ids fill few pages;
- window: every batch's rows profiled into the window by one recompute, as the next recompute does
  with what queued since the last (the recompute's time less that of a recompute with nothing new).

Every stage but the HTTP server's own (uvicorn and Starlette reading the request and writing the
answer) runs under the one interpreter lock, so their sum bounds what one process can take:
``1e6 / total`` events/s. It prints one table row per stage, the median over the batches.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from bench.online import MODEL, demo_events


def _timed(work: Any) -> tuple[Any, float]:
    start = time.process_time()
    result = work()
    return result, time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--fsync", choices=["interval", "group"], default="interval")
    parser.add_argument("--ids", choices=["sequence", "uuid"], default="sequence", help="the events' ids")
    parser.add_argument("--stored", type=int, default=0, help="events in the store before (not timed)")
    args = parser.parse_args()

    from modelmon.config import Window, load_config
    from modelmon.demo.files import write_demo_files
    from modelmon.service.body import parse_json
    from modelmon.service.journal import Journal, entry_line
    from modelmon.service.model_monitor import ModelMonitor
    from modelmon.store import open_store

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as temporary:
        folder = Path(temporary)
        config = load_config(write_demo_files(folder, rows=5_000)).model(MODEL)
        config = replace(config, model_file=None, window=Window(rows=10_000))
        monitor = ModelMonitor(config)
        store = open_store(f"sqlite:///{folder / 'bench.db'}")
        journal = Journal(folder / "journal", fsync=args.fsync).start()
        events = demo_events(folder, args.batch * args.batches)

        def event_id(n: int, i: int) -> str:
            return uuid.uuid4().hex if args.ids == "uuid" else f"b{n}-{i}"

        bodies = [
            orjson.dumps(
                {
                    "events": [
                        dict(e, id=event_id(n, i))
                        for i, e in enumerate(events[n * args.batch :][: args.batch])
                    ]
                }
            )
            for n in range(args.batches)
        ]
        for start in range(0, args.stored, 5000):  # the store's earlier events, not timed
            earlier = events[: min(5000, args.stored - start)]
            checked = monitor.check([dict(e, id=f"s-{event_id(start, i)}") for i, e in enumerate(earlier)])
            store.events.add_events(MODEL, checked.documents)
        stages: dict[str, list[float]] = {}
        documents: list[dict[str, Any]] = []
        try:
            for body in bodies:
                data, parse = _timed(lambda body=body: parse_json(body))
                batch, check = _timed(lambda data=data: monitor.check(data["events"]))
                line, record = _timed(lambda batch=batch: entry_line("events", MODEL, batch.documents))
                done = journal.append(line, len(batch.documents))
                _, write = _timed(lambda done=done: done.result(30))
                _, accept = _timed(lambda batch=batch: monitor.accept(batch))
                costs = {"parse": parse, "check": check, "journal record": record}
                costs |= {"journal write": write, "accept": accept}
                for name, seconds in costs.items():
                    stages.setdefault(name, []).append(seconds * 1e6 / len(batch.rows))
                documents += batch.documents
            # the store writer takes what queued meanwhile, up to 5,000 items a write
            for start in range(0, len(documents), 5000):
                part = documents[start : start + 5000]
                _, stored = _timed(lambda part=part: store.events.add_events(MODEL, part))
                stages.setdefault("store (SQLite, 5,000 a write)", []).append(stored * 1e6 / len(part))
            # a recompute profiles what queued since the last one: every batch here
            _, window = _timed(monitor.recompute)
            _, again = _timed(monitor.recompute)  # the sections alone, nothing new
            stages["window (profile the rows at the next recompute)"] = [
                (window - again) * 1e6 / len(documents)
            ]
        finally:
            journal.close()
            store.close()
    print(f"| stage | CPU us per event (median of {args.batches} batches of {args.batch}) |")
    print("|---|---|")
    total = 0.0
    for name, values in stages.items():
        median = statistics.median(values)
        total += median
        print(f"| {name} | {median:.2f} |")
    print(f"| total | {total:.2f} (at most {1e6 / total:,.0f} events/s on one core) |")


if __name__ == "__main__":
    main()
