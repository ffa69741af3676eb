"""Two ``modelmon serve --shard`` processes behind nginx give what one process gives.

One config file names both shards, their addresses and models; each process is started with
``--shard NAME`` only and listens on its shard's address, and ``proxy-config`` reads the same
section. The same events sent through the proxy and to a single process serving both models give
the same window summary, and each shard's ``/metrics`` carries only the series of the models it owns.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml

from integration_support import free_port, require_binary, start_serve, stop_process
from modelmon.demo.stack import wait_for_http

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MODELS = ("taxi", "credit")
WINDOW = 300


def _events(model: str, seed: int, rows: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        {
            "id": f"{model}-{i}",
            "timestamp": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z",
            "features": {"distance": float(rng.normal(5 + 2 * (model == "taxi"), 1)), "zone": str(i % 3)},
            "prediction": float(rng.normal(10, 2)),
            "target": float(rng.normal(10, 2)),
        }
        for i in range(rows)
    ]


def _config(folder: Path, store: str, shards: dict[str, int] | None = None) -> Path:
    """A config of both models; with ``shards`` (model -> port), one shard per model named after it."""
    rng = np.random.default_rng(0)
    reference = folder / "reference.parquet"
    pd.DataFrame(
        {
            "distance": rng.normal(5, 1, 500),
            "zone": [str(i % 3) for i in range(500)],
            "duration": rng.normal(10, 2, 500),
            "actual": rng.normal(10, 2, 500),
        }
    ).to_parquet(reference)
    model = {
        "task": "regression",
        "reference": str(reference),
        "numerical": ["distance"],
        "categorical": ["zone"],
        "prediction": "duration",
        "target": "actual",
        "window": {"rows": WINDOW},
        "refresh_seconds": 1,
    }
    path = folder / f"{store}.yml"
    config = {"store": f"sqlite:///{folder / store}.db", "models": {name: model for name in MODELS}}
    if shards is not None:
        config["shards"] = {
            f"monitor-{name}": {"address": f"127.0.0.1:{port}", "models": [name]}
            for name, port in shards.items()
        }
    path.write_text(yaml.safe_dump(config, sort_keys=False))  # the shards in their order
    return path


def _window(base: str, model: str) -> dict:
    """The model's summary once its window holds every event sent."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        summary = httpx.get(f"{base}/v1/models/{model}/summary", timeout=10).json()
        if summary.get("current_rows") == WINDOW:
            return summary
        time.sleep(0.5)
    raise AssertionError(f"{model}: the window never filled: {summary}")


def _diff(a, b, where=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in set(a) | set(b):
            yield from _diff(a.get(key), b.get(key), f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _diff(x, y, f"{where}[{i}]")
    elif a != b:
        yield where, a, b


def _results(summary: dict) -> dict:
    keep = ("current_rows", "drift", "quality", "performance")
    return {key: summary[key] for key in keep}


def test_two_shards_behind_nginx_equal_one_process(tmp_path):
    nginx = require_binary("nginx")
    ports = {"single": free_port(), "taxi": free_port(), "credit": free_port(), "proxy": free_port()}
    single_config = _config(tmp_path, "single")
    shard_config = _config(tmp_path, "shards", {name: ports[name] for name in MODELS})
    processes = [
        start_serve(single_config, ports["single"]),
        *(
            start_serve(shard_config, None, "--shard", f"monitor-{name}", log=tmp_path / f"serve-{name}.log")
            for name in MODELS
        ),
    ]
    try:
        proxy_conf = tmp_path / "nginx.conf"
        command = [sys.executable, "-m", "modelmon", "proxy-config", "--config", str(shard_config)]
        listen = ["--listen", f"127.0.0.1:{ports['proxy']}"]
        generated = subprocess.run([*command, *listen], capture_output=True, text=True, check=True)
        options = [f"--shard=127.0.0.1:{ports[name]}={name}" for name in MODELS]
        as_options = subprocess.run([*command, *options, *listen], capture_output=True, text=True, check=True)
        assert generated.stdout == as_options.stdout
        proxy_conf.write_text(generated.stdout)
        directives = f"daemon off; pid {tmp_path / 'nginx.pid'}; error_log {tmp_path / 'nginx.err'};"
        proxy = subprocess.Popen(
            [nginx, "-p", str(tmp_path), "-c", str(proxy_conf), "-g", directives], start_new_session=True
        )
        processes.append(proxy)
        for name, process in zip(("single", "taxi", "credit"), processes, strict=False):
            alive = process.poll
            assert wait_for_http(f"http://127.0.0.1:{ports[name]}/health", 90, lambda a=alive: a() is None), (
                name
            )
        proxied = f"http://127.0.0.1:{ports['proxy']}"
        single = f"http://127.0.0.1:{ports['single']}"
        assert wait_for_http(f"{proxied}/health", 30, lambda: proxy.poll() is None)
        for seed, model in enumerate(MODELS):
            events = _events(model, seed, WINDOW)
            # the last hundred as flat records through /iterate: both routes must reach the owner
            flat = [
                {**e["features"], "duration": e["prediction"], "actual": e["target"]} for e in events[200:]
            ]
            for base in (proxied, single):
                for start in (0, 100):
                    batch = events[start : start + 100]
                    answer = httpx.post(
                        f"{base}/v1/models/{model}/events", json={"events": batch}, timeout=30
                    )
                    assert answer.status_code == 200 and answer.json()["accepted"] == len(batch), answer.text
                answer = httpx.post(f"{base}/iterate/{model}", json=flat, timeout=30)
                assert answer.status_code == 200, answer.text
        for model in MODELS:
            left, right = _results(_window(proxied, model)), _results(_window(single, model))
            # equal but for the last bits of float sums (buckets fill as events arrive: they add in
            # another order in each process)
            assert [(at, a, b) for at, a, b in _diff(left, right) if a != pytest.approx(b, rel=1e-9)] == [], (
                model
            )
        # each shard says which it is, and exports only its own models' series
        for owner, other in (("taxi", "credit"), ("credit", "taxi")):
            health = httpx.get(f"http://127.0.0.1:{ports[owner]}/health", timeout=10).json()
            assert (health["shard"], health["models"]) == (f"monitor-{owner}", [owner])
            metrics = httpx.get(f"http://127.0.0.1:{ports[owner]}/metrics", timeout=10).text
            assert f'model="{owner}"' in metrics and f'model="{other}"' not in metrics, owner
            listed = httpx.get(f"http://127.0.0.1:{ports[owner]}/v1/models", timeout=10).text
            assert owner in listed and other not in listed
        assert httpx.get(f"{proxied}/v1/models/nope/summary", timeout=10).status_code == 404
    finally:
        for process in processes:
            stop_process(process)


def test_serve_refuses_a_model_the_config_lacks(tmp_path):
    config = _config(tmp_path, "single")
    result = subprocess.run(
        [sys.executable, "-m", "modelmon", "serve", "--config", str(config), "--models", "taxi,nope"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "nope" in result.stderr and "taxi" in result.stderr
