"""Demo data written through the monitoring service into a SQLite store, for the flow tests."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from starlette.testclient import TestClient

from modelmon.config import Config, load_config
from modelmon.demo.files import TAXI_MODEL_NAME, write_demo_files
from modelmon.service.app import create_app
from modelmon.service.runtime import MonitoringService
from modelmon.store import open_store

POST_BATCH = 500


@dataclass
class Demo:
    folder: Path
    config_path: Path
    config: Config
    current: pd.DataFrame
    #: the same config without model files: no SHAP, for the runs that test something else
    fast_config_path: Path

    @property
    def features(self) -> tuple[str, ...]:
        return self.config.model(TAXI_MODEL_NAME).schema.features

    @property
    def current_start(self) -> pd.Timestamp:
        return pd.Timestamp(self.current["pickup_time"].min(), tz="UTC")

    @property
    def current_end(self) -> pd.Timestamp:
        """Just after the last current event (periods exclude their end)."""
        return pd.Timestamp(self.current["pickup_time"].max(), tz="UTC") + pd.Timedelta(seconds=1)

    @property
    def incident_start(self) -> pd.Timestamp:
        """The demo injects its taxi incident from the middle row of the current file on."""
        return pd.Timestamp(self.current["pickup_time"].iloc[len(self.current) // 2], tz="UTC")


def _plain(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def taxi_events(frame: pd.DataFrame, schema_features: tuple[str, ...]) -> list[dict[str, Any]]:
    """The rows of a taxi file as the prediction service would send them."""
    events = []
    for row in frame.to_dict("records"):
        events.append(
            {
                "id": row["ride_id"],
                "timestamp": pd.Timestamp(row["pickup_time"]).tz_localize("UTC").isoformat(),
                "features": {name: _plain(row[name]) for name in schema_features},
                "prediction": _plain(row["duration"]),
                "target": _plain(row["duration_actual"]),
            }
        )
    return events


def post_through_service(config: Config, model: str, events: list[dict[str, Any]]) -> None:
    """POST events to an in-process monitoring service and wait until it has stored them."""
    service = MonitoringService(config, store=open_store(config.store))
    try:
        with TestClient(create_app(service)) as client:
            for start in range(0, len(events), POST_BATCH):
                batch = events[start : start + POST_BATCH]
                response = client.post(f"/v1/models/{model}/events", json={"events": batch})
                assert response.status_code == 200, response.text
                assert response.json()["accepted"] == len(batch), response.text
        assert service.persister.flush(), "the service did not write its events to the store in time"
    finally:
        service.close()


def write_demo(folder: Path, rows: int = 3000) -> Demo:
    """Demo files whose config stores events in ``folder/events.db``, and the taxi current data posted."""
    config_path = write_demo_files(folder, rows=rows)
    data = yaml.safe_load(config_path.read_text())
    # an absolute store URL: every process (CLI, served flow runs) finds the same file
    data["store"] = f"sqlite:///{(folder / 'events.db').resolve()}"
    config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    for model in data["models"].values():
        model["model_file"] = None
    fast_config_path = folder / "fast.yml"
    fast_config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    config = load_config(config_path)
    current = pd.read_parquet(folder / "taxi_current.parquet")
    features = config.model(TAXI_MODEL_NAME).schema.features
    post_through_service(config, TAXI_MODEL_NAME, taxi_events(current, features))
    return Demo(folder, config_path, config, current, fast_config_path)
