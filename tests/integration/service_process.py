"""Running a monitoring service in this process, on a free loopback port, for integration tests."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import pandas as pd
import uvicorn

from integration_support import free_port
from modelmon.config import Config
from modelmon.demo.stack import wait_for_http
from modelmon.service.app import create_app
from modelmon.service.runtime import MonitoringService
from modelmon.store.base import Store


class ServiceThread:
    """A MonitoringService behind uvicorn in a background thread."""

    def __init__(
        self, config: Config, store: Store, references: Mapping[str, pd.DataFrame] | None = None
    ) -> None:
        self.service = MonitoringService(config, store=store, references=references)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        server_config = uvicorn.Config(
            create_app(self.service), host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(server_config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServiceThread:
        self.thread.start()
        if not wait_for_http(f"{self.url}/health", 20, self.thread.is_alive):
            raise RuntimeError("the monitoring service did not start")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.service.close()
