"""The model-insight sections drawn from a real report: charts present, text escaped, n/a explained."""

from __future__ import annotations

import re

import pytest
from sklearn.ensemble import RandomForestRegressor

from modelmon.demo import models
from modelmon.demo.data import taxi_trips
from modelmon.demo.incidents import apply_incident
from modelmon.engine.build import build_report
from modelmon.render.html import render_html
from modelmon.render.model_insight import (
    error_stream_chart,
    render_concept,
    render_explain,
    render_multivariate,
    render_outliers,
)
from modelmon.schema import Schema
from modelmon.sections import named

SCHEMA = Schema(
    task="regression",
    numerical=models.TAXI_NUMERICAL,
    categorical=models.TAXI_CATEGORICAL,
    prediction=models.TAXI_PREDICTION,
    target=models.TAXI_TARGET,
    id=models.TAXI_ID,
    timestamp=models.TAXI_TIMESTAMP,
)
SECTIONS = ("outliers", "explain", "concept", "multivariate")


@pytest.fixture(scope="module")
def report() -> dict:
    reference = taxi_trips(2000, seed=0)
    model = RandomForestRegressor(n_estimators=20, max_depth=6, random_state=0)
    model.fit(reference[models.TAXI_NUMERICAL], reference[models.TAXI_TARGET])
    current = taxi_trips(2000, seed=1)
    current = apply_incident("outliers", current, at=0)
    current = apply_incident("concept_change", current, at=1000)
    return build_report(reference, current, SCHEMA, model=model, sections=SECTIONS, sample_rows=800).to_dict()


def test_the_sections_declare_these_fragments(report: dict) -> None:
    for key, renderer in zip(
        SECTIONS, (render_outliers, render_explain, render_concept, render_multivariate), strict=True
    ):
        assert named()[key].fragment(report[key], report) == renderer(report[key])


def test_each_section_is_drawn_with_its_chart(report: dict) -> None:
    assert report["outliers"]["detected"] and report["concept"]["detected"]
    outliers = render_outliers(report["outliers"])
    assert "<svg" in outliers and "Top outlier rows" in outliers and "trip_distance" in outliers
    explain = render_explain(report["explain"])
    assert explain.count("<rect") >= len(models.TAXI_NUMERICAL)
    concept = render_concept(report["concept"])
    assert "<polyline" in concept and "stroke-dasharray" in concept
    multivariate = render_multivariate(report["multivariate"])
    assert "ROC AUC" in multivariate and "<svg" in multivariate
    page = render_html(report)
    assert page.count("<svg") >= 4 and "<script" not in page


def test_change_points_sit_where_the_detectors_found_them() -> None:
    chart = error_stream_chart([0, 50], [1.0, 2.0], {"ddm": [25, 75]}, rows=100, width=140)
    # plot from x=40 to x=130: row 25 of 100 is at 62.5, row 75 at 107.5
    assert re.findall(r'<line x1="([\d.]+)"[^>]*stroke-dasharray', chart) == ["62.5", "107.5"]
    assert "ddm at row 25" in chart


def test_text_is_escaped_and_not_applicable_explained() -> None:
    for renderer in (render_outliers, render_explain, render_concept, render_multivariate):
        html = renderer({"applicable": False, "reason": "no <model> & no targets"})
        assert "no &lt;model&gt; &amp; no targets" in html
    section = {
        "applicable": True,
        "detected": True,
        "share": 0.03,
        "columns": {},
        "top_rows": [{"id": "<b>", "row": "1", "score": 0.9, "rules": [], "features": {"<f>": "<v>"}}],
    }
    html = render_outliers(section)
    assert "&lt;f&gt;" in html and "&lt;v&gt;" in html and "<td>&lt;b&gt;</td>" in html
    assert "<f>" not in html and "<v>" not in html
