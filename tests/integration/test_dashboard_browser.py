"""The built-in dashboard in headless Chromium: no console errors, and it shows the summary's values."""

from __future__ import annotations

import json
import math
import tempfile
import urllib.request
from pathlib import Path

import pytest
from service_process import ServiceThread

from integration_support import need, require_binary
from modelmon.config import load_config
from modelmon.demo.data import taxi_trips
from modelmon.demo.files import write_demo_files
from modelmon.demo.incidents import apply_incident
from modelmon.store import open_store

pytestmark = pytest.mark.integration
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _events(frame, schema):
    events = []
    for record in frame.to_dict("records"):
        features = {name: record[name] for name in (*schema.features, *schema.segments) if name in record}
        features = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in features.items()}
        events.append(
            {
                "id": str(record[schema.id]),
                "features": features,
                "prediction": float(record[schema.prediction]),
            }
        )
    return events


def _post(url: str, body: object) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_dashboard_shows_the_summary_without_console_errors(tmp_path):
    chromium = require_binary("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a dev dependency
        need(False, "playwright is not installed (pip install playwright)")
    config = load_config(write_demo_files(tmp_path / "demo", rows=4000, seed=3))
    schema = config.models["taxi-duration"].schema
    with ServiceThread(config, open_store(f"sqlite:///{tmp_path / 'store.db'}")) as server:
        current = apply_incident("covariate_shift", taxi_trips(1500, seed=11), at=0)
        answer = _post(f"{server.url}/v1/models/taxi-duration/events", {"events": _events(current, schema)})
        assert answer["accepted"] == 1500
        targets = [
            {"id": str(i), "target": float(t)}
            for i, t in zip(current[schema.id], current[schema.target], strict=True)
        ]
        _post(f"{server.url}/v1/models/taxi-duration/targets", {"targets": targets[-800:]})
        server.service.recompute("taxi-duration")
        server.service.recompute("taxi-duration")
        summary = _get(f"{server.url}/v1/models/taxi-duration/summary")
        assert summary["drift"]["dataset_drift"] or any(
            c["detected"] for c in summary["drift"]["columns"].values()
        )

        console: list[str] = []
        with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile_dir:
            browser = playwright.chromium.launch_persistent_context(
                profile_dir,
                executable_path=chromium,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
                viewport={"width": 1400, "height": 1800},
            )
            page = browser.new_page()
            page.on("console", lambda message: message.type == "error" and console.append(message.text))
            page.on("pageerror", lambda error: console.append(str(error)))
            page.goto(f"{server.url}/?model=taxi-duration")
            page.wait_for_selector("body[data-loaded='taxi-duration']", timeout=20_000)
            page.wait_for_selector("#history svg", timeout=20_000)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            shown = {
                field: page.inner_text(f"[data-field='{field}']")
                for field in ("current_rows", "labelled_rows", "events_total", "dataset_drift")
            }
            drift_rows = {
                row.get_attribute("data-column"): row.query_selector("[data-field='detected']").inner_text()
                for row in page.query_selector_all("#drift tr[data-column]")
            }
            mae_shown = page.inner_text("#performance tr[data-metric='mae'] [data-field='current']")
            segment_rows = {
                row.get_attribute("data-segment")
                for row in page.query_selector_all("#segment-drift tr[data-segment]")
            }
            segment_bars = page.query_selector("#segment-drift svg") is not None
            browser.close()

        latest = _get(f"{server.url}/v1/models/taxi-duration/summary")
    assert console == [], console
    assert shown["current_rows"] == str(latest["current_rows"])
    assert shown["labelled_rows"] == str(latest["labelled_rows"]) == "800"
    assert shown["events_total"] == "1500"
    assert shown["dataset_drift"] == ("yes" if latest["drift"]["dataset_drift"] else "no")
    expected = {name: ("drift" if c["detected"] else "ok") for name, c in latest["drift"]["columns"].items()}
    assert drift_rows == expected
    assert float(mae_shown) == pytest.approx(latest["performance"]["current"]["mae"], rel=1e-3)
    ranking = latest["segments"]["drift_ranking"][:15]
    assert segment_bars and ranking, "drift per segment is drawn"
    assert segment_rows == {item["segment"] for item in ranking if item["drifted_columns"]}
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000


def test_regression_fairness_is_shown_as_errors_and_outlier_rows_as_rounded_numbers():
    import re

    import numpy as np
    import pandas as pd

    from modelmon.config import parse_config

    chromium = require_binary("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a dev dependency
        need(False, "playwright is not installed (pip install playwright)")
    rng = np.random.default_rng(2)

    def rows(count: int) -> pd.DataFrame:
        bmi = np.round(rng.normal(26, 4, count), 2) + 0.0000000000000001  # floats like 35.879999999999995
        frame = pd.DataFrame(
            {"bmi": bmi * 1.38, "bp": rng.normal(95, 14, count), "sex": rng.choice(["1", "2"], count)}
        )
        frame["pred"] = 3 * frame["bmi"] + frame["bp"]
        frame["y"] = frame["pred"] + rng.normal(0, 10, count)
        return frame

    spec = {
        "task": "regression",
        "numerical": ["bmi", "bp"],
        "categorical": ["sex"],
        "prediction": "pred",
        "target": "y",
        "id": "rid",
        "sensitive": ["sex"],
        "window": {"rows": 1000},
    }
    config = parse_config({"models": {"m": spec}}, environ={})
    current = rows(600)
    current.loc[:5, "bmi"] = 95.879999999999995  # a few far outliers
    with ServiceThread(config, open_store("memory://"), references={"m": rows(2000)}) as server:
        events = [
            {"id": str(i), "features": {k: row[k] for k in ("bmi", "bp", "sex")}, "prediction": row["pred"]}
            for i, row in enumerate(current.to_dict("records"))
        ]
        assert _post(f"{server.url}/v1/models/m/events", {"events": events})["accepted"] == 600
        targets = [{"id": str(i), "target": y} for i, y in enumerate(current["y"])]
        _post(f"{server.url}/v1/models/m/targets", {"targets": targets})
        server.service.recompute("m")
        summary = _get(f"{server.url}/v1/models/m/summary")
        assert summary["fairness"]["attributes"]["sex"]["max_error_gap"] is not None
        assert summary["outliers"]["top_rows"]
        with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile_dir:
            browser = playwright.chromium.launch_persistent_context(
                profile_dir, executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page()
            page.goto(f"{server.url}/?model=m")
            page.wait_for_selector("body[data-loaded='m']", timeout=20_000)
            fairness = page.inner_text("#fairness")
            outlier_rows = [row.inner_text() for row in page.query_selector_all("#outliers tr[data-outlier]")]
            browser.close()
    assert "MAE per group" in fairness and "MAE gap" in fairness and "selection rate" not in fairness
    assert outlier_rows and all("bmi=" in row for row in outlier_rows)
    long_numbers = [n for row in outlier_rows for n in re.findall(r"\d+\.\d+", row) if len(n) > 8]
    assert long_numbers == [], outlier_rows


def test_a_window_without_a_drift_verdict_is_not_shown_as_a_pass():
    import numpy as np
    import pandas as pd

    from modelmon.config import parse_config

    chromium = require_binary("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a dev dependency
        need(False, "playwright is not installed (pip install playwright)")
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 500), "pred": rng.normal(0, 1, 500)})
    config = parse_config({"models": {"m": {"numerical": ["x"], "prediction": "pred"}}}, environ={})
    with ServiceThread(config, open_store("memory://"), references={"m": reference}) as server:
        # 10 events: fewer than the 30 a KS test needs for a verdict, so dataset_drift is null
        events = [{"id": str(i), "features": {"x": float(i)}, "prediction": 0.0} for i in range(10)]
        assert _post(f"{server.url}/v1/models/m/events", {"events": events})["accepted"] == 10
        server.service.recompute("m")
        assert _get(f"{server.url}/v1/models/m/summary")["drift"]["dataset_drift"] is None
        with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile_dir:
            browser = playwright.chromium.launch_persistent_context(
                profile_dir, executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page()
            page.goto(f"{server.url}/?model=m")
            page.wait_for_selector("body[data-loaded='m']", timeout=20_000)
            card = page.query_selector("[data-field='dataset_drift']")
            shown, classes = card.inner_text(), card.get_attribute("class").split()
            browser.close()
    assert shown == "\u2013"  # an en dash: no value
    assert "ok" not in classes and "bad" not in classes, classes
