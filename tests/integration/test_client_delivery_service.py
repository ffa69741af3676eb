"""The client's Delivery read from a real monitoring service's answers, not from a fake one: a batch
the service refuses whole (422), a batch it takes in part, and the rejection counter a prediction
service exports. The client's own tests use a fake ingest; this one fails if the service's answers
and the client's reading of them drift apart."""

from __future__ import annotations

import numpy as np
import pandas as pd
from prometheus_client import CollectorRegistry
from service_process import ServiceThread

from modelmon.client import Monitor, register_monitor
from modelmon.config import parse_config
from modelmon.store import open_store


def _reference(rows: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=rows), "c": rng.choice(list("abc"), rows)})
    frame["y"] = 2 * frame["x"]
    return frame


def test_flush_reports_what_a_real_service_refused_and_the_counter_shows_it(tmp_path):
    model = {"task": "regression", "numerical": ["x"], "categorical": ["c"], "prediction": "y"}
    config = parse_config(
        {
            "store": f"sqlite:///{tmp_path / 'store.db'}",
            "models": {"m": model},
            "ingest": {"journal_dir": str(tmp_path / "journal")},
        },
        environ={},
    )
    store = open_store(config.store)
    with ServiceThread(config, store, {"m": _reference()}) as running:
        registry = CollectorRegistry()
        monitor = Monitor(
            running.url, "m", batch_size=300, flush_interval=0.05, spool_path=tmp_path / "spool.jsonl"
        )
        register_monitor(monitor, registry)
        # every event has a prediction of a wrong type: the service answers 422 for the whole batch
        for i in range(269):
            monitor.log({"x": float(i % 7), "c": "a"}, {"label": 1.0}, id=f"bad{i}")
        refused = monitor.flush(timeout=60)
        assert refused.finished and not refused
        assert (refused.sent, refused.rejected, refused.dropped) == (0, 269, 269)
        assert "prediction: expected" in refused.reasons[0]
        assert registry.get_sample_value("modelmon_client_rejected_events_total", {"model": "m"}) == 269

        # one event in two has a list for its prediction: the service keeps the others
        for i in range(10):
            monitor.log({"x": float(i), "c": "b"}, [1, 2] if i % 2 else 1.5, id=f"mixed{i}")
        mixed = monitor.flush(timeout=60)
        assert mixed.finished and not mixed
        assert (mixed.sent, mixed.rejected) == (5, 5)
        assert "item 1: prediction: expected" in mixed.reasons[0]
        assert registry.get_sample_value("modelmon_client_rejected_events_total", {"model": "m"}) == 274

        monitor.log({"x": 0.5, "c": "c"}, 1.0, id="good")
        closed = monitor.close(timeout=60)
        assert closed and (closed.sent, closed.rejected, closed.reasons) == (1, 0, ())
        counters = running.service.monitors["m"].counters
        assert (counters.events, sum(counters.rejected.values())) == (6, 274)
