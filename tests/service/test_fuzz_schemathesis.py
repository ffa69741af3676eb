"""Schemathesis fuzzes a real ``modelmon serve`` on loopback from the service's own /openapi.json.

Every operation gets generated valid and invalid requests (examples, coverage of the schema's edges,
random fuzzing, and stateful sequences), bounded by ``--max-examples`` and a fixed seed. The run fails
on any server error, any status or content type the document does not list, any answer that does not
match its schema, and any schema-invalid request that is not refused. Not checked:
``positive_data_acceptance``, since a schema-valid body can still be refused for what JSON Schema
cannot say (a record of ``/iterate`` without the model's prediction column, a timestamp beyond the
accepted range once its UTC offset is applied); those answer 422 with the reason, which the checks
above do cover.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from security_support import MAX_BODY, MODEL, TOKEN, reference

from integration_support import free_port, need
from modelmon.demo.stack import wait_for_http
from modelmon.service.openapi import OPERATIONS

pytestmark = pytest.mark.slow
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "ignored_auth",
]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("fuzz")
    reference().to_parquet(folder / "reference.parquet")
    config = {
        "store": f"sqlite:///{folder / 'store.db'}",
        "max_body_bytes": MAX_BODY,
        "models": {"m": {**MODEL, "reference": "reference.parquet"}},
    }
    (folder / "modelmon.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELMON_")} | {"MODELMON_TOKEN": TOKEN}
    command = [sys.executable, "-m", "modelmon", "serve", "--config", str(folder / "modelmon.yml")]
    with (folder / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [*command, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env
        )
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_for_http(f"{url}/health", 60, lambda: process.poll() is None), (
            folder / "serve.log"
        ).read_text()
        yield url, folder
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_document(live):
    need(SCHEMATHESIS.exists(), "schemathesis is not installed (pip install 'modelmon[dev]')")
    url, folder = live
    command = [
        str(SCHEMATHESIS), "run", f"{url}/openapi.json", "--header", f"Authorization: Bearer {TOKEN}",
        "--checks", ",".join(CHECKS), "--max-examples", "15", "--seed", "20261203", "--workers", "1",
        "--generation-database", "none", "--request-timeout", "20", "--no-color",
        "--report", "junit", "--report-dir", str(folder / "report"),
    ]  # fmt: skip
    # run in the test's folder: schemathesis keeps a cache of what it found in its working directory
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, cwd=folder)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    selected = re.search(r"Operations:\s+(\d+) selected / (\d+) total", output)
    assert selected and selected[1] == selected[2] and int(selected[1]) >= len(OPERATIONS) - 1, output[:2000]
    assert "Server error" not in output
    log = (folder / "serve.log").read_text()
    assert "Traceback" not in log, log[-5000:]
