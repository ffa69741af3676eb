"""The SQLite store writer's CPU per event: checked demo events written 5,000 to a write into a fresh file.

    python -m bench.store_writes [--events 20000] [--rounds 7]

Each round writes ``--events`` events of the demo taxi model (checked as ingest checks them, ids
never stored before) into a new SQLite file, 5,000 to a write as the store writer takes them, and
times ``add_events`` (process CPU, so a loaded machine stretches wall time but less these figures).
It prints the median and quartiles over the rounds, in CPU microseconds per event. To compare with
another checkout, run it with ``PYTHONPATH=ANCHOR/src:.`` and without, alternating.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import orjson

from bench.online import MODEL, demo_events


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    from modelmon.config import Window, load_config
    from modelmon.demo.files import write_demo_files
    from modelmon.service.model_monitor import ModelMonitor
    from modelmon.store import open_store

    with tempfile.TemporaryDirectory(prefix="bench-store-") as temporary:
        folder = Path(temporary)
        config = load_config(write_demo_files(folder, rows=5_000)).model(MODEL)
        monitor = ModelMonitor(replace(config, model_file=None, window=Window(rows=10_000)))
        events = demo_events(folder, args.events)
        documents = []
        for start in range(0, len(events), 500):  # as the service checks a body's batch, parsed
            batch = [dict(e, id=f"e{start + i}") for i, e in enumerate(events[start : start + 500])]
            documents += monitor.check(orjson.loads(orjson.dumps(batch))).documents
        seconds = []
        for round_ in range(args.rounds):
            store = open_store(f"sqlite:///{folder / f'round-{round_}.db'}")
            try:
                spent = 0.0
                for start in range(0, len(documents), 5000):
                    began = time.process_time()
                    store.events.add_events(MODEL, documents[start : start + 5000])
                    spent += time.process_time() - began
            finally:
                store.close()
            seconds.append(spent)
    per_event = [value * 1e6 / len(documents) for value in seconds]
    low, _, high = statistics.quantiles(per_event, n=4) if len(per_event) > 1 else (per_event * 3)
    print(
        f"store writes: {statistics.median(per_event):.2f} CPU us per event "
        f"(quartiles {low:.2f}-{high:.2f}, {args.rounds} rounds of {len(documents):,} events)"
    )


if __name__ == "__main__":
    main()
