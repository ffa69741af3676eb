"""``modelmon serve --shard`` and ``modelmon proxy-config`` read the config's ``shards:`` section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import uvicorn
import yaml
from click.testing import CliRunner

from modelmon.cli.serve import serve
from modelmon.cli.shard import proxy_config

_CLEAN_ENV = {name: None for name in ("MODELMON_TOKEN", "MODELMON_TOKEN_FILE", "MODELMON_STORE")}
SHARDS = {
    "monitor-a": {"address": "127.0.0.1:8086", "models": ["taxi", "churn"]},
    "monitor-b": {"address": "127.0.0.2:8087", "models": ["fraud"]},
}


def _config(folder: Path, shards: dict[str, Any] | None = SHARDS) -> Path:
    rng = np.random.default_rng(0)
    pd.DataFrame({"x": rng.normal(size=200), "y": rng.normal(size=200)}).to_parquet(folder / "ref.parquet")
    model = {"task": "regression", "reference": "ref.parquet", "numerical": ["x"], "prediction": "y"}
    data: dict[str, Any] = {
        "store": f"sqlite:///{folder / 'store.db'}",
        "health": {"api": "http://127.0.0.1:9/health"},
        "models": {name: model for name in ("taxi", "churn", "fraud")},
    }
    if shards is not None:
        data["shards"] = shards
    path = folder / "modelmon.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def listened(monkeypatch) -> list[dict[str, Any]]:
    """What ``uvicorn.run`` was asked to serve, instead of serving it."""
    calls: list[dict[str, Any]] = []

    def run(app, host, port, **options):
        service = app.state.service
        calls.append(
            {"host": host, "port": port, "models": list(service.monitors), "health": service.health()}
            | {"probes": sorted(service.prober.targets)}
        )

    monkeypatch.setattr(uvicorn, "run", run)
    return calls


def _serve(config: Path, *options: str):
    return CliRunner().invoke(serve, ["--config", str(config), *options], env=_CLEAN_ENV)


def test_serve_shard_serves_its_models_on_its_address(tmp_path, listened):
    result = _serve(_config(tmp_path), "--shard", "monitor-a")
    assert result.exit_code == 0, result.output
    [run] = listened
    assert (run["host"], run["port"], run["models"]) == ("127.0.0.1", 8086, ["taxi", "churn"])
    assert run["health"]["shard"] == "monitor-a" and run["health"]["models"] == ["churn", "taxi"]
    assert run["probes"] == ["api"]  # the shard with the config's first model probes health:
    assert "shard monitor-a, models: taxi, churn" in result.output


def test_serve_shard_of_later_models_probes_nothing_and_host_port_override(tmp_path, listened):
    result = _serve(_config(tmp_path), "--shard", "monitor-b", "--host", "127.0.0.1")
    assert result.exit_code == 0, result.output
    result = _serve(_config(tmp_path), "--shard", "monitor-b", "--port", "9001")
    assert result.exit_code == 0, result.output
    assert [(run["host"], run["port"], run["models"]) for run in listened] == [
        ("127.0.0.1", 8087, ["fraud"]),
        ("127.0.0.2", 9001, ["fraud"]),
    ]
    assert all(run["probes"] == [] and run["health"]["shard"] == "monitor-b" for run in listened)


def test_serve_without_shard_serves_every_model_on_the_default_address(tmp_path, listened):
    result = _serve(_config(tmp_path, shards=None))
    assert result.exit_code == 0, result.output
    [run] = listened
    assert (run["host"], run["port"], run["models"]) == ("127.0.0.1", 8085, ["taxi", "churn", "fraud"])
    assert run["health"]["shard"] is None


def test_serve_models_still_selects_models(tmp_path, listened):
    result = _serve(_config(tmp_path), "--models", "fraud", "--port", "8090")
    assert result.exit_code == 0, result.output
    assert [(run["port"], run["models"], run["health"]["shard"]) for run in listened] == [
        (8090, ["fraud"], None)
    ]


def test_serve_refuses_shard_and_models_together(tmp_path, listened):
    result = _serve(_config(tmp_path), "--shard", "monitor-a", "--models", "taxi")
    assert result.exit_code == 2
    assert "--shard and --models are mutually exclusive" in result.output
    assert listened == []


@pytest.mark.parametrize(
    ("shards", "message"),
    [
        (SHARDS, "shard 'monitor-c' is not in the config (its shards: monitor-a, monitor-b)"),
        (None, "shard 'monitor-c': the config has no shards: section"),
    ],
)
def test_serve_refuses_a_shard_the_config_lacks(tmp_path, listened, shards, message):
    result = _serve(_config(tmp_path, shards), "--shard", "monitor-c")
    assert result.exit_code == 2
    assert message in result.output
    assert listened == []


def _proxy(config: Path, *options: str):
    return CliRunner().invoke(proxy_config, ["--config", str(config), "--listen", "8085", *options])


def test_proxy_config_from_the_config_equals_the_same_map_given_as_options(tmp_path):
    config = _config(tmp_path)
    from_config = _proxy(config)
    from_options = _proxy(config, "--shard", "127.0.0.1:8086=taxi,churn", "--shard", "127.0.0.2:8087=fraud")
    assert from_config.exit_code == 0, from_config.output
    assert from_config.output == from_options.output
    assert "upstream shard_0 { server 127.0.0.1:8086;" in from_config.output
    assert "location ~ ^/(v1/models|iterate)/fraud(/|$) { proxy_pass http://shard_1; }" in from_config.output


def test_proxy_config_options_win_over_the_config(tmp_path):
    result = _proxy(_config(tmp_path), "--shard", "10.0.0.5:9000=taxi,churn,fraud")
    assert result.exit_code == 0, result.output
    assert "server 10.0.0.5:9000;" in result.output and "8086" not in result.output


def test_proxy_config_without_shards_or_options_says_what_to_give(tmp_path):
    result = _proxy(_config(tmp_path, shards=None))
    assert result.exit_code == 2
    assert "the config has no shards: section" in result.output and "--shard HOST:PORT=MODEL" in result.output


def test_serve_without_shard_on_a_sharded_config_serves_all_and_warns(tmp_path, listened, caplog):
    result = _serve(_config(tmp_path))
    assert result.exit_code == 0, result.output
    assert [run["models"] for run in listened] == [["taxi", "churn", "fraud"]]
    assert any(
        "the config has shards (monitor-a, monitor-b)" in record.getMessage() for record in caplog.records
    )
