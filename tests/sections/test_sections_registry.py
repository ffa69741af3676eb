"""The section registry: every consumer iterates it, so a new section is one module and one line.

The toy section (``toy_section.py``, one module) is added to :data:`modelmon.sections.REGISTRY` (the
one line) and shows up in the report JSON, the HTML page, the service's summary and ``/metrics``.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import toy_section
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from modelmon import sections
from modelmon.config import parse_config
from modelmon.engine.build import build_report
from modelmon.render.html import render_html
from modelmon.schema import Schema
from modelmon.service.app import create_app
from modelmon.service.runtime import MonitoringService
from modelmon.store import open_store

SCHEMA = Schema(numerical=["x"], categorical=["c"], prediction="y")


def _frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x": rng.normal(size=rows), "c": rng.choice(list("abc"), rows)})
    frame["y"] = 2 * frame["x"]
    return frame


@pytest.fixture
def with_toy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sections, "REGISTRY", (*sections.REGISTRY, toy_section.SECTION))


def test_the_registry_lists_each_section_once_in_report_order() -> None:
    names = [section.name for section in sections.REGISTRY]
    assert names == list(dict.fromkeys(names))
    assert names[:3] == ["drift", "quality", "performance"]
    assert list(sections.named()) == names


@pytest.mark.usefixtures("with_toy")
def test_a_toy_section_is_in_the_report_json_and_its_html_page() -> None:
    report = build_report(_frame(600, 0), _frame(400, 1), SCHEMA).to_dict()
    toy = json.loads(json.dumps(report["toy"]))
    assert toy["column"] == "x" and toy["current_rows"] == 400
    assert toy["reference_mean"] == pytest.approx(_frame(600, 0)["x"].mean())
    assert list(report).index("toy") == list(report).index("multivariate") + 1
    page = render_html(report)
    assert '<a href="#section-toy">toy</a>' in page
    assert '<p class="toy">toy section on x: 400 rows</p>' in page


def test_without_its_registry_line_the_toy_section_is_nowhere() -> None:
    report = build_report(_frame(600, 0), _frame(400, 1), SCHEMA, sections=("drift",)).to_dict()
    assert "toy" not in report and "section-toy" not in render_html(report)


@pytest.mark.usefixtures("with_toy")
def test_a_toy_section_runs_online_and_is_in_the_summary_and_metrics() -> None:
    model = {"task": "regression", "numerical": ["x"], "categorical": ["c"], "prediction": "y", "id": "rid"}
    config = parse_config({"models": {"m": {**model, "window": {"rows": 500}}}}, environ={})
    service = MonitoringService(config, store=open_store("memory://"), references={"m": _frame(600, 0)})
    try:
        client = TestClient(create_app(service, CollectorRegistry()))
        events = [
            {"id": str(i), "features": {"x": float(x), "c": c}, "prediction": 2 * float(x)}
            for i, (x, c) in enumerate(_frame(300, 2)[["x", "c"]].itertuples(index=False))
        ]
        assert client.post("/v1/models/m/events", json={"events": events}).json()["accepted"] == 300
        service.recompute("m")
        summary = client.get("/v1/models/m/summary").json()
        assert summary["toy"]["current_rows"] == 300
        assert 'modelmon_toy_rows{model="m"} 300.0' in client.get("/metrics").text
    finally:
        service.close()
