"""One real Prefect server for every flow test of the session.

Starting one takes tens of seconds on a busy machine (database migrations), and the tests do not
share anything through it that another could see: each names its own flow, deployment or report
period, and asks the server for its own runs by id.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect_harness import PrefectServer, start_prefect_server

from integration_support import need


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    pytest.importorskip("prefect")
    server = start_prefect_server(tmp_path_factory.mktemp("prefect"))
    need(server is not None, "`prefect server start` did not answer /api/health in time")
    assert server is not None
    yield server
    server.stop()
