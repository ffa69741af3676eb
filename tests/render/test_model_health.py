from __future__ import annotations

import re

import pytest

from modelmon.demo import models
from modelmon.demo.data import credit_applications
from modelmon.demo.incidents import apply_incident
from modelmon.engine.fairness import fairness_section
from modelmon.engine.performance_section import performance_section
from modelmon.engine.profile import ProfileSpec
from modelmon.engine.report import ReportInputs
from modelmon.engine.segments import segments_section
from modelmon.render.model_health import metric_bars, render_fairness, render_performance, render_segments
from modelmon.schema import Schema

CREDIT = Schema(
    task="classification",
    numerical=models.CREDIT_NUMERICAL,
    categorical=models.CREDIT_CATEGORICAL,
    prediction=models.CREDIT_PREDICTION,
    target=models.CREDIT_TARGET,
    probabilities=[models.CREDIT_PROBA],
    segments=["region"],
    sensitive=["gender"],
)


@pytest.fixture(scope="module")
def sections() -> dict:
    reference = credit_applications(4000, seed=0)
    current = apply_incident("bias", credit_applications(4000, seed=1), at=0)
    current = apply_incident("segment_degradation", current, at=0)
    # only the parts rendered here: the others (an IsolationForest per spec) would only cost time
    spec = ProfileSpec.fit(reference, CREDIT, parts=("performance", "estimated", "segments", "fairness"))
    inputs = ReportInputs(spec.profile(reference), spec.profile(current))
    return {
        "performance": performance_section(inputs),
        "segments": segments_section(inputs),
        "fairness": fairness_section(inputs),
    }


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_performance_shows_reference_current_and_estimate(sections):
    html = render_performance(sections["performance"])
    assert "estimated (CBPE)" in html and "Confusion matrix" in html and "<svg" in html
    text = _text(html)
    assert "accuracy" in text and "roc_auc" in text
    assert f"{sections['performance']['current']['accuracy']:.4g}" in text


def test_segments_name_the_degraded_segment_with_a_red_bar(sections):
    html = render_segments(sections["segments"])
    first_row = _text(html.split("<tbody>")[1].split("</tr>")[0]).split()
    assert first_row[:2] == ["region", "north"] and "degraded" in first_row
    assert "#d62728" in html  # the degraded segment's bar


def test_fairness_names_the_group_and_draws_rates(sections):
    html = render_fairness(sections["fairness"])
    text = _text(html)
    assert "worse than reference" in text and "female" in text
    for rate in ("selection_rate", "tpr", "fpr"):
        assert f"{rate} per gender" in html


def test_not_applicable_sections_say_why():
    html = render_performance(
        {"applicable": False, "reason": "no target <yet>", "estimated": {"applicable": False, "reason": "x"}}
    )
    assert "no target &lt;yet&gt;" in html and "<yet>" not in html
    assert "Not applicable" in render_segments({"applicable": False, "reason": "no segments"})
    assert "Not applicable" in render_fairness({"applicable": False, "reason": "no attributes"})


def test_bars_escape_labels_and_mark_the_reference():
    svg = metric_bars([("<script>", 0.5, 0.7, False), ("b", None, 0.2, False)], "t & t")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "t &amp; t" in svg
    assert svg.count("<line") == 2 and svg.count("<rect") == 1 and "no value" in svg


def test_the_html_report_uses_these_renderers(sections):
    from modelmon.render.html import render_html
    from modelmon.sections import named

    for key, renderer in (("performance", render_performance), ("segments", render_segments)):
        assert named()[key].fragment(sections[key], sections) == renderer(sections[key])
    page = render_html({"reference_rows": 4000, "current_rows": 4000, **sections})
    assert "Worst segments by accuracy" in page and "selection_rate per gender" in page
