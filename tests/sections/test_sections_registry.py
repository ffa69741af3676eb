"""The section registry: every consumer iterates it, so a new section is one module and one line.

The toy section (``toy_section.py``, one module) is added to :data:`modelmon.sections.REGISTRY` (the
one line) and shows up in the report JSON, the HTML page, the service's summary, ``/metrics`` and
the dashboard (in headless Chromium).
"""

from __future__ import annotations

import json
import tempfile

import numpy as np
import pandas as pd
import pytest
import toy_section
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from integration_support import need, require_binary
from modelmon import sections
from modelmon.config import Config, parse_config
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


def _config() -> Config:
    model = {"task": "regression", "numerical": ["x"], "categorical": ["c"], "prediction": "y", "id": "rid"}
    return parse_config({"models": {"m": {**model, "window": {"rows": 500}}}}, environ={})


def _service() -> MonitoringService:
    return MonitoringService(_config(), store=open_store("memory://"), references={"m": _frame(600, 0)})


def _events(rows: int) -> list[dict]:
    return [
        {"id": str(i), "features": {"x": float(x), "c": c}, "prediction": 2 * float(x)}
        for i, (x, c) in enumerate(_frame(rows, 2)[["x", "c"]].itertuples(index=False))
    ]


@pytest.mark.usefixtures("with_toy")
def test_a_toy_section_runs_online_and_is_in_the_summary_and_metrics() -> None:
    service = _service()
    try:
        client = TestClient(create_app(service, CollectorRegistry()))
        assert client.post("/v1/models/m/events", json={"events": _events(300)}).json()["accepted"] == 300
        service.recompute("m")
        summary = client.get("/v1/models/m/summary").json()
        assert summary["toy"]["current_rows"] == 300
        assert 'modelmon_toy_rows{model="m"} 300.0' in client.get("/metrics").text
    finally:
        service.close()


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.usefixtures("with_toy")
def test_the_dashboard_draws_a_toy_section_it_has_no_widget_for() -> None:
    chromium = require_binary("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a dev dependency
        need(False, "playwright is not installed (pip install playwright)")
    from integration.service_process import ServiceThread

    with ServiceThread(_config(), open_store("memory://"), {"m": _frame(600, 0)}) as server:
        assert (
            TestClient(create_app(server.service, CollectorRegistry()))
            .post("/v1/models/m/events", json={"events": _events(300)})
            .json()["accepted"]
            == 300
        )
        server.service.recompute("m")
        console: list[str] = []
        with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
            browser = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=chromium,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
            )
            page = browser.new_page()
            page.on("pageerror", lambda error: console.append(str(error)))
            page.goto(f"{server.url}/?model=m")
            page.wait_for_selector("body[data-loaded='m']", timeout=30_000)
            drawn = [item.get_attribute("data-section") for item in page.query_selector_all("[data-section]")]
            toy = page.inner_text("section[data-section='toy']")
            browser.close()
    assert console == []
    assert drawn == ["toy"]  # the sections with a widget of their own are not drawn twice
    assert "current_rows" in toy and "300" in toy and "reference_mean" in toy
