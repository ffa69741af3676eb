"""The monitoring config the compose stack mounts describes exactly the demo models `demo-data` writes."""

from __future__ import annotations

from pathlib import Path

import yaml
from prometheus_harness import DEPLOY

from modelmon.config import load_config
from modelmon.demo.files import demo_config

CONFIG = DEPLOY / "modelmon" / "modelmon.yml"
DATA = Path("/data")  # where the compose file mounts the demo-data volume


def test_the_config_loads_with_the_mongodb_store() -> None:
    config = load_config(CONFIG, environ={})
    assert config.store == "mongodb://mongodb:27017/modelmon"
    assert set(config.health) == {"prediction-service", "prefect-server"}
    assert all(
        url.startswith(("http://prediction:9696", "http://prefect-server:4200"))
        for url in config.health.values()
    )


def test_the_environment_overrides_the_store() -> None:
    config = load_config(CONFIG, environ={"MODELMON_STORE": "mongodb://db.internal:27017/mm"})
    assert config.store == "mongodb://db.internal:27017/mm"


def test_models_match_the_demo_folder_with_files_under_the_data_volume() -> None:
    deployed = yaml.safe_load(CONFIG.read_text())["models"]
    demo = demo_config()["models"]
    assert set(deployed) == set(demo)
    for name, expected in demo.items():
        for key in ("reference", "model_file"):
            expected = {**expected, key: str(DATA / expected[key])}
        assert deployed[name] == expected, name


def test_the_compose_file_mounts_this_config_where_the_commands_read_it() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    for name in ("monitoring", "batch"):
        service = compose["services"][name]
        assert "./modelmon/modelmon.yml:/etc/modelmon/modelmon.yml:ro" in service["volumes"], name
        assert "demo-data:/data:ro" in service["volumes"], name
        command = service["command"]
        assert command[command.index("--config") + 1] == "/etc/modelmon/modelmon.yml", name
    demo_data = compose["services"]["demo-data"]["command"]
    assert demo_data[demo_data.index("--out") + 1] == str(DATA)
