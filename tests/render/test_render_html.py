"""The HTML report: self-contained, parseable, escaped, small, with the drift table and plots."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from modelmon.render.html import render_html, write_html
from modelmon.render.widgets import generic_section
from modelmon.sections import REGISTRY


class Page(HTMLParser):
    """Collects tags, attributes and text, and checks that every opened element is closed."""

    VOID = {"meta", "br", "img", "input", "link", "line", "rect", "polyline", "hr", "col", "source"}

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    assert parser.open == [], f"unclosed elements: {parser.open}"
    return parser


def report_dict(columns: int = 20) -> dict:
    rng = np.random.default_rng(0)
    drift_columns = {}
    distributions = {}
    for i in range(columns):
        name = f"col<{i}>" if i == 0 else f"feature_{i}"
        score = float(rng.random())
        drift_columns[name] = {
            "method": "wasserstein",
            "score": score,
            "threshold": 0.5,
            "detected": score >= 0.5,
            "p_value": None,
            "kind": "numerical",
            "role": "feature",
        }
        if i % 4 == 3:
            labels = [f"v{j}" for j in range(10)] + ["other"]
            distributions[name] = {
                "kind": "categorical",
                "labels": labels,
                "reference": (rng.dirichlet(np.ones(11))).tolist(),
                "current": (rng.dirichlet(np.ones(11))).tolist(),
            }
        else:
            distributions[name] = {
                "kind": "numerical",
                "bins": np.linspace(0, 1, 31).tolist(),
                "reference": rng.dirichlet(np.ones(30)).tolist(),
                "current": rng.dirichlet(np.ones(30)).tolist(),
            }
    drifted = sum(c["detected"] for c in drift_columns.values())
    return {
        "modelmon_version": "0.1.0",
        "generated_at": "2026-01-01T00:00:00+00:00",
        "reference_rows": 1000,
        "current_rows": 2000,
        "drift": {
            "dataset_drift": drifted / columns >= 0.5,
            "drifted_share": drifted / columns,
            "drifted_count": drifted,
            "share_threshold": 0.5,
            "columns": drift_columns,
        },
        "quality": {
            "columns": {
                "col<0>": {
                    "kind": "numerical",
                    "missing_share": 0.2,
                    "reference": {"mean": 1.0},
                    "current": {"mean": float("nan")},
                }
            },
            "schema": {"missing_columns": ["gone"], "unexpected_columns": []},
            "duplicates": {"rows": 2000, "duplicated": 3, "share": 0.0015},
            "issues": [
                {
                    "column": "col<0>",
                    "kind": "missing_share",
                    "value": 0.2,
                    "threshold": 0.05,
                    "message": "col<0>: 20.0% missing values",
                }
            ],
        },
        "performance": {"applicable": False, "reason": "no target <yet>"},
        "custom_section": {"by": {"zone": {"a": {"rmse": 1.5, "rows": 10}, "b": {"rmse": 2.5, "rows": 12}}}},
        "distributions": distributions,
    }


def test_page_is_self_contained_and_parses():
    page = render_html(report_dict())
    parsed = parse(page)
    for tag, attrs in parsed.tags:
        assert tag not in ("script", "link", "iframe", "img"), tag
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            assert not re.match(r"(https?:)?//", value), (tag, key, value)
    assert "http://" not in page and "https://" not in page


def test_drift_table_is_sorted_by_severity_and_escaped():
    data = report_dict()
    page = render_html(data)
    assert "col&lt;0&gt;" in page and "col<0>" not in page
    assert "no target &lt;yet&gt;" in page
    drift_part = page.split('id="section-drift"')[1].split("</table>")[0]
    names = re.findall(r"<tr><td>([^<]+)</td>", drift_part)
    columns = data["drift"]["columns"]
    expected = sorted(columns, key=lambda n: (not columns[n]["detected"], -columns[n]["score"]))
    assert [name.replace("&lt;", "<").replace("&gt;", ">") for name in names] == expected
    assert page.count("<svg") >= 40  # a score bar per column and a plot per column


def test_other_sections_are_drawn_generically():
    page = render_html(report_dict())
    custom = page.split('id="section-custom_section"')[1].split("</section>")[0]
    assert "rmse" in custom and "2.5" in custom and "<table" in custom


def test_twenty_columns_stay_well_under_a_megabyte(tmp_path):
    path = write_html(tmp_path / "out" / "report.html", report_dict(20))
    assert path.stat().st_size < 1_000_000


def test_every_registered_section_declares_its_fragment():
    assert [section.name for section in REGISTRY if callable(section.fragment)] == [
        section.name for section in REGISTRY
    ]


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ([{"a": 1, "b": "<x>"}], "&lt;x&gt;"),
        ({"applicable": False, "reason": "because"}, "Not applicable: because"),
        ({"nested": {"deep": [1, 2, 3]}}, "1, 2, 3"),
    ],
)
def test_generic_section(data, text):
    assert text in generic_section(data)


def test_real_report_renders_the_drift_table_and_plots(tmp_path):
    from modelmon.engine.build import build_report
    from modelmon.schema import Schema

    rng = np.random.default_rng(1)
    reference = pd.DataFrame({"x": rng.normal(size=500), "c": rng.choice(["a", "b"], 500)})
    current = pd.DataFrame({"x": rng.normal(1, 1, 500), "c": rng.choice(["a", "b", "new"], 500)})
    report = build_report(reference, current, Schema(numerical=["x"], categorical=["c"]))
    page_text = report.save_html(tmp_path / "r.html").read_text()
    page = parse(page_text)
    drift_part = page_text.split('id="section-drift"')[1].split("</section>")[0]
    rows = dict(re.findall(r"<tr><td>([^<]+)</td>(.*?)</tr>", drift_part))
    assert set(rows) == {"x", "c"} and all("badge bad" in row for row in rows.values())
    assert drift_part.count("<svg") == 4  # two score bars, two distribution plots
    assert any("never seen" in text for text in page.text)


def test_a_real_twenty_column_report_is_small(tmp_path):
    from modelmon.engine.build import build_report
    from modelmon.schema import Schema

    rng = np.random.default_rng(2)

    def make(shift: float) -> pd.DataFrame:
        data = {f"n{i}": rng.normal(shift if i < 5 else 0.0, 1, 3000) for i in range(15)}
        data |= {f"c{i}": rng.choice([f"level{j}" for j in range(10)], 3000) for i in range(5)}
        return pd.DataFrame(data)

    schema = Schema(numerical=[f"n{i}" for i in range(15)], categorical=[f"c{i}" for i in range(5)])
    path = build_report(make(0.0), make(0.5), schema).save_html(tmp_path / "r.html")
    assert path.stat().st_size < 1_000_000
    page = path.read_text()
    assert page.count('class="card"') == 20 and "<script" not in page
