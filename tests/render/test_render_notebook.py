"""A report in a notebook: the save_html page in a cell (rendered by Chromium), its tables as frames."""

from __future__ import annotations

import html
import re
import tempfile

import numpy as np
import pandas as pd
import pytest

from integration_support import need, require_binary
from modelmon.engine.build import build_report
from modelmon.schema import Schema


@pytest.fixture(scope="module")
def report():
    rng = np.random.default_rng(4)

    def frame(rows: int, shift: float) -> pd.DataFrame:
        data = pd.DataFrame({"bmi": rng.normal(26 + shift, 4, rows), "clinic": rng.choice(["n", "s"], rows)})
        data.loc[data.index[: int(rows * 0.1 * shift)], "bmi"] = np.nan
        return data

    schema = Schema(numerical=["bmi"], categorical=["clinic"])
    return build_report(frame(800, 0), frame(500, 1), schema, sections=("drift", "quality"))


def test_to_frame_has_one_row_per_column_with_the_json_values(report):
    drift, quality = report.to_frame("drift"), report.to_frame(section="quality")
    data = report.to_dict()
    assert list(drift.index) == ["bmi", "clinic"] and drift.index.name == "column"
    for column in ("bmi", "clinic"):
        for key in ("method", "score", "p_value", "threshold", "detected"):
            assert drift.loc[column, key] == data["drift"]["columns"][column][key] or (
                pd.isna(drift.loc[column, key]) and data["drift"]["columns"][column][key] is None
            )
    assert bool(drift.loc["bmi", "detected"]) and quality.loc["bmi", "missing_share"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="drift, quality"):
        report.to_frame("performance")


def test_repr_html_is_the_saved_page_in_a_frame_sized_for_a_cell(report, tmp_path):
    shown = report._repr_html_()
    match = re.fullmatch(r'<iframe srcdoc="([^"]*)" title="modelmon report" style="([^"]*)"></iframe>', shown)
    assert match is not None and "height: 640px" in match[2] and "width: 100%" in match[2]
    saved = report.save_html(tmp_path / "report.html").read_text(encoding="utf-8")
    assert html.unescape(match[1]) == saved


@pytest.mark.integration
def test_a_notebook_cell_shows_the_report_in_chromium(report, tmp_path):
    chromium = require_binary("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a dev dependency
        need(False, "playwright is not installed (pip install playwright)")
    cell = tmp_path / "cell.html"
    cell.write_text(
        f"<!DOCTYPE html><html><body><div class='output'>{report._repr_html_()}</div></body></html>"
    )
    errors: list[str] = []
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile_dir:
        browser = playwright.chromium.launch_persistent_context(
            profile_dir,
            executable_path=chromium,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        page = browser.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(cell.as_uri())
        frame = page.frame_locator("iframe")
        drift_title = frame.locator("#section-drift h2").inner_text(timeout=20_000)
        quality = frame.locator("#section-quality").inner_text(timeout=20_000)
        height = page.locator("iframe").bounding_box()
        browser.close()
    assert drift_title == "drift" and "bmi" in quality and not errors
    assert height is not None and height["height"] == pytest.approx(642, abs=2)  # 640 px and its border
