"""An alert in the built-in dashboard (headless Chromium): the model's recent alerts with their
findings, a working link to the diagnostic report and the action's outcome. The screenshots of the
dashboard and of the report, and the notification a receiver got, are written to test-artifacts/
(the docs' how-to on alerts shows them)."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import pytest
from service_process import ServiceThread

from integration_support import need, require_binary
from modelmon.config import parse_config
from modelmon.store import open_store

sys.path.insert(0, str(Path(__file__).parents[1] / "service"))
from alert_support import alert_body, events, http_sink, model_spec, reference

pytestmark = pytest.mark.integration
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.mark.slow
def test_the_dashboard_lists_a_models_alerts_with_their_reports(tmp_path):
    chromium = require_binary("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a dev dependency
        need(False, "playwright is not installed (pip install playwright)")
    with http_sink() as sink:
        actions = {"m": {"deployment": "retrain/on-alert", "prefect_api_url": "http://127.0.0.1:9/api"}}
        alerts = {
            "receivers": [{"name": "ml-alerts", "type": "slack", "url": f"{sink.url}/slack"}],
            "actions": actions,
        }
        config = parse_config(
            {"models": {"m": model_spec()}, "reports_dir": str(tmp_path / "reports"), "alerts": alerts},
            base=tmp_path,
            environ={},
        )
        with ServiceThread(config, open_store("memory://"), references={"m": reference()}) as server:
            server.service.ingest("m", events(1000, shift_x=2.0, shift_w=0.4))
            deadline = time.monotonic() + 30
            while server.service.store.events.count("m") < 1000:
                assert time.monotonic() < deadline, "the events never reached the store"
                time.sleep(0.05)
            server.service.recompute("m")
            import urllib.request

            request = urllib.request.Request(
                f"{server.url}/v1/alerts",
                data=json.dumps(alert_body()).encode(),
                headers={"Content-Type": "application/json"},
            )
            urllib.request.urlopen(request, timeout=30).close()
            assert server.service.alerts.wait_idle(60)
            (entry,) = server.service.alerts.recent("m")
            notification = sink.wait_for(1)[0][1]
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / "alert-notification.json").write_text(json.dumps(notification, indent=2) + "\n")
            console: list[str] = []
            with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile_dir:
                browser = playwright.chromium.launch_persistent_context(
                    profile_dir,
                    executable_path=chromium,
                    headless=True,
                    args=[
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-background-networking",
                        "--no-first-run",
                    ],
                    viewport={"width": 1400, "height": 1000},
                )
                page = browser.new_page()
                page.on("console", lambda message: message.type == "error" and console.append(message.text))
                page.on("pageerror", lambda error: console.append(str(error)))
                page.goto(f"{server.url}/?model=m")
                page.wait_for_selector("#alerts table", timeout=20_000)
                cells = [cell.inner_text() for cell in page.query_selector_all("#alerts tbody tr td")]
                link = page.query_selector("#alerts a").get_attribute("href")
                page.query_selector("#alerts").screenshot(path=str(ARTIFACTS / "alert-dashboard.png"))
                dashboard_errors = list(console)  # the report page's own favicon request may 404
                page.goto(f"{server.url}{link}")
                page.wait_for_load_state("load")
                page.screenshot(path=str(ARTIFACTS / "alert-report.png"))
                report_text = page.inner_text("body")
                browser.close()
    assert dashboard_errors == [], dashboard_errors
    assert cells[1] == "ModelmonDatasetDrift" and cells[2] == "firing"
    assert cells[3].startswith("drift: x (wasserstein")
    assert link == f"/v1/reports/{entry['report']['id']}/html"
    assert "retrain/on-alert: failed" in cells[5]
    assert "x" in report_text and (ARTIFACTS / "alert-report.png").stat().st_size > 10_000
    assert notification["text"] == "[FIRING] ModelmonDatasetDrift on m"
