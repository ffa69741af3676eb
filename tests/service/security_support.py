"""A small monitoring service (one regression model, memory store) for the security and fuzz tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from modelmon.config import Config, parse_config
from modelmon.service.app import create_app
from modelmon.service.runtime import MonitoringService
from modelmon.store import open_store

TOKEN = "write-token-0123456789abcdef"
READ_TOKEN = "read-token-0123456789abcdef"
MAX_BODY = 200_000


def reference(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x": rng.normal(size=rows), "c": rng.choice(list("abc"), rows)})
    frame["y"] = 2 * frame["x"]
    frame["t"] = frame["y"] + rng.normal(size=rows) * 0.1
    return frame


MODEL = {
    "task": "regression",
    "numerical": ["x"],
    "categorical": ["c"],
    "prediction": "y",
    "target": "t",
    "id": "rid",
    "timestamp": "ts",
    "window": {"rows": 500},
    "refresh_seconds": 60,
}


def config(**top: Any) -> Config:
    return parse_config({"models": {"m": MODEL}, "max_body_bytes": MAX_BODY, **top}, environ={})


def service(cfg: Config, store_url: str = "memory://") -> MonitoringService:
    return MonitoringService(cfg, store=open_store(store_url), references={"m": reference()})


def client(svc: MonitoringService, **headers: str) -> TestClient:
    return TestClient(create_app(svc, CollectorRegistry()), headers=headers)


def event(i: int = 0, **fields: Any) -> dict[str, Any]:
    return {"id": str(i), "features": {"x": 0.1 * i, "c": "a"}, "prediction": 0.2 * i, **fields}
