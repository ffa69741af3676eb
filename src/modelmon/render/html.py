"""The report as one self-contained HTML file: inline CSS and SVG, no script, nothing fetched.

It reads the report's plain data (``Report.to_dict()``), so a report stored as JSON can be drawn
again later. Each section is drawn by the renderer registered for its key in
:data:`SECTION_RENDERERS`; any other section is drawn generically as tables, so new sections show
up before they get a dedicated renderer.

>>> page = render_html({"reference_rows": 10, "current_rows": 12, "custom": {"value": "<b>"}})
>>> "&lt;b&gt;" in page and "<script" not in page
True
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from html import escape
from pathlib import Path
from typing import Any

from modelmon.render import svg
from modelmon.render.approximations import approximation_text
from modelmon.render.detection import render_checks
from modelmon.render.json import to_jsonable
from modelmon.render.model_health import render_fairness, render_performance, render_segments
from modelmon.render.model_insight import render_concept, render_explain, render_multivariate, render_outliers

__all__ = ["SECTION_RENDERERS", "drift_severity", "generic_section", "render_html", "table", "write_html"]

#: rows beyond this in one generic table are summarised, so a huge section cannot bloat the page
MAX_TABLE_ROWS = 200
_HEADER_KEYS = (
    "modelmon_version",
    "generated_at",
    "reference_rows",
    "current_rows",
    "schema",
    "distributions",
)

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1f2d3d;color:#fff;padding:16px 24px}header h1{margin:0 0 6px;font-size:20px}
nav{background:#fff;border-bottom:1px solid #ddd;padding:8px 24px;position:sticky;top:0}
nav a{margin-right:14px;color:#1f5fa8;text-decoration:none}
main{padding:8px 24px 40px}section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;
padding:12px 16px;margin:16px 0}h2{margin:4px 0 10px;font-size:18px}
table{border-collapse:collapse;font-size:13px;margin:6px 0}th,td{border-bottom:1px solid #eee;
padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f3f3}
.badge{display:inline-block;padding:2px 8px;border-radius:10px;font-size:12px;color:#fff}
.bad{background:#d62728}.good{background:#2ca02c}.na{background:#999}
.stats span{margin-right:22px}.grid{display:flex;flex-wrap:wrap;gap:12px}
.card{border:1px solid #eee;border-radius:4px;padding:6px 8px}.card h3{font-size:13px;margin:0 0 4px}
.legend span{margin-right:12px;font-size:12px}.muted{color:#777}
"""


def fmt(value: Any) -> str:
    """A cell value as short escaped text."""
    if value is None:
        return '<span class="muted">-</span>'
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return escape(f"{value:.4g}")
    if isinstance(value, list) and all(not isinstance(item, dict | list) for item in value):
        return escape(", ".join(str(item) for item in value[:20]) + (" ..." if len(value) > 20 else ""))
    if isinstance(value, dict) and all(not isinstance(item, dict | list) for item in value.values()):
        return escape(", ".join(f"{key}: {item}" for key, item in list(value.items())[:20]))
    return escape(str(value))


def verdict(detected: bool | None) -> str:
    if detected is None:
        return '<span class="badge na">n/a</span>'
    return '<span class="badge bad">drift</span>' if detected else '<span class="badge good">ok</span>'


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A table of already-escaped cells (headers are escaped here)."""
    head = "".join(f"<th>{escape(name)}</th>" for name in headers)
    extra = ""
    if len(rows) > MAX_TABLE_ROWS:
        extra = f'<p class="muted">{len(rows) - MAX_TABLE_ROWS} more rows are in the JSON report.</p>'
        rows = rows[:MAX_TABLE_ROWS]
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{extra}"


def generic_section(data: Any, depth: int = 0) -> str:
    """Any plain data as tables: scalars as key/value rows, a dict of dicts as one row per key."""
    if not isinstance(data, Mapping):
        if isinstance(data, list) and data and all(isinstance(item, Mapping) for item in data):
            headers = list(dict.fromkeys(key for item in data for key in item))
            return table(headers, [[fmt(item.get(key)) for key in headers] for item in data])
        return f"<p>{fmt(data)}</p>"
    if data.get("applicable") is False:
        return f'<p class="muted">Not applicable: {escape(str(data.get("reason", "")))}</p>'
    scalars = {key: value for key, value in data.items() if not _nested(value)}
    parts = [table(["", "value"], [[escape(str(k)), fmt(v)] for k, v in scalars.items()])] if scalars else []
    for key, value in data.items():
        if key in scalars:
            continue
        inner = (
            _rows_table(value)
            if isinstance(value, Mapping) and value and all(isinstance(v, Mapping) for v in value.values())
            else generic_section(value, depth + 1)
        )
        parts.append(
            f"<details {'open' if depth < 1 else ''}><summary>{escape(str(key))}</summary>{inner}</details>"
        )
    return "".join(parts)


def _nested(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(isinstance(item, Mapping | list) for item in value.values()) or len(value) > 20
    return isinstance(value, list) and any(isinstance(item, Mapping | list) for item in value)


def _rows_table(rows: Mapping[str, Mapping[str, Any]]) -> str:
    headers = list(dict.fromkeys(key for row in rows.values() for key in row if not _nested(row[key])))
    body = [[escape(str(name)), *(fmt(row.get(key)) for key in headers)] for name, row in rows.items()]
    return table(["", *headers], body)


def drift_severity(column: Mapping[str, Any]) -> float:
    """How far past its threshold a column is: > 1 means drift, for p-value and distance tests alike."""
    score, threshold, p_value = column.get("score"), column.get("threshold"), column.get("p_value")
    if not threshold:
        return 0.0
    if p_value is not None:
        return threshold / p_value if p_value > 0 else float("inf")
    return float(score) / threshold if score is not None else 0.0


def _bar(column: Mapping[str, Any]) -> str:
    """Distances against their threshold; p-values as -log10(p) against -log10(alpha)."""
    threshold, p_value = column.get("threshold"), column.get("p_value")
    if p_value is not None and threshold:
        return svg.score_bar(
            -math.log10(max(p_value, 1e-300)), -math.log10(threshold), bool(column.get("detected"))
        )
    return svg.score_bar(column.get("score"), threshold, bool(column.get("detected")))


def render_drift(drift: dict[str, Any], distributions: Mapping[str, Any] | None = None) -> str:
    """Dataset verdict, the per-column table (most severe first) and the distribution plots."""
    if drift.get("applicable") is False:
        return generic_section(drift)
    columns = drift.get("columns", {})
    order = sorted(
        columns, key=lambda name: (not columns[name].get("detected"), -drift_severity(columns[name]))
    )
    rows = []
    for name in order:
        column = columns[name]
        rows.append(
            [
                escape(name),
                fmt(column.get("role") or column.get("kind")),
                fmt(column.get("method")),
                fmt(column.get("score")),
                fmt(column.get("p_value")),
                fmt(column.get("threshold")),
                _bar(column),
                verdict(column.get("detected")),
                fmt(
                    "; ".join(
                        filter(None, [column.get("note"), approximation_text(column.get("approximation"))])
                    )
                    or None
                ),
            ]
        )
    tested = drift.get("tested_features", len(columns))
    summary = (
        f"<p>Dataset drift: {verdict(drift.get('dataset_drift'))} &nbsp; "
        f"{fmt(drift.get('drifted_count'))} of {fmt(tested)} tested features drifted "
        f"(share {fmt(drift.get('drifted_share'))}, threshold {fmt(drift.get('share_threshold'))})</p>"
        '<p class="muted">Bars: distance against its threshold, or -log10(p-value) against -log10(alpha); '
        "the black line is the threshold.</p>"
    )
    if drift.get("insufficient_data"):
        summary += (
            '<p class="muted">Insufficient data: the features\' tests need '
            f"{fmt(drift.get('min_rows'))} rows before a dataset verdict (quiet warm-up).</p>"
        )
    headers = ["column", "role", "method", "score", "p-value", "threshold", "", "verdict", "note"]
    parts = [summary, table(headers, rows)]
    if drift.get("embeddings"):
        parts.append(render_embeddings(drift["embeddings"]))
    if distributions:
        parts.append(
            render_distributions(distributions, order + [n for n in distributions if n not in columns])
        )
    return "".join(parts)


def render_embeddings(embeddings: Mapping[str, Any]) -> str:
    """One row per embedding set: the test over the whole space, its score and verdict."""
    rows = []
    for name, result in embeddings.items():
        rows.append(
            [
                escape(name),
                fmt(result.get("method")),
                fmt(result.get("dimensions")),
                f"{fmt(result.get('rows_reference'))} / {fmt(result.get('rows_current'))}",
                fmt(result.get("score")),
                fmt(result.get("p_value")),
                fmt(result.get("threshold")),
                verdict(result.get("detected")),
                fmt(result.get("note") or result.get("reason") or result.get("rule")),
            ]
        )
    headers = ["embeddings", "method", "dimensions", "rows (ref / cur)", "score", "p-value", "threshold"]
    return "<h3>Embedding drift</h3>" + table([*headers, "verdict", "note"], rows)


def render_distributions(distributions: Mapping[str, Any], order: list[str] | None = None) -> str:
    """One card per column: overlaid histograms or category bars, reference vs current."""
    legend = (
        f'<p class="legend"><span style="color:{svg.REFERENCE_COLOR}">&#9632; reference</span>'
        f'<span style="color:{svg.CURRENT_COLOR}">&#9632; current</span></p>'
    )
    cards = []
    for name in order or list(distributions):
        shape = distributions.get(name)
        if not shape:
            continue
        if shape["kind"] == "numerical":
            chart = svg.histogram(shape["bins"], shape["reference"], shape["current"])
        else:
            chart = svg.category_bars(shape["labels"], shape["reference"], shape["current"])
        cards.append(f'<div class="card"><h3>{escape(name)}</h3>{chart}</div>')
    return f'<h3>Distributions</h3>{legend}<div class="grid">{"".join(cards)}</div>'


def render_quality(quality: dict[str, Any]) -> str:
    """Issues first, then the per-column figures, schema check and duplicates."""
    if quality.get("applicable") is False:
        return generic_section(quality)
    issues = quality.get("issues", [])
    issue_rows = [
        [
            fmt(i.get("column")),
            fmt(i.get("kind")),
            fmt(i.get("value")),
            fmt(i.get("threshold")),
            fmt(i.get("message")),
        ]
        for i in issues
    ]
    parts = [f"<h3>Issues ({len(issues)})</h3>"]
    parts.append(
        table(["column", "kind", "value", "threshold", "finding"], issue_rows) if issues else "<p>None.</p>"
    )
    keys = [
        "kind",
        "role",
        "missing_share",
        "type_error_share",
        "out_of_range_share",
        "new_category_share",
        "most_frequent_share",
    ]
    rows = []
    for name, column in quality.get("columns", {}).items():
        means = [
            column.get(side, {}).get("mean") if isinstance(column.get(side), dict) else None
            for side in ("reference", "current")
        ]
        rows.append([escape(name), *(fmt(column.get(key)) for key in keys), fmt(means[0]), fmt(means[1])])
    parts.append("<h3>Columns</h3>" + table(["column", *keys, "reference mean", "current mean"], rows))
    approximated = [
        [escape(name), fmt(approximation_text(column["approximation"]))]
        for name, column in quality.get("columns", {}).items()
        if column.get("approximation")
    ]
    if approximated:
        parts.append("<h3>Approximations</h3>" + table(["column", "what is approximate"], approximated))
    schema = quality.get("schema", {})
    parts.append(
        f"<h3>Schema</h3><p>Missing columns: {fmt(schema.get('missing_columns') or None)}; "
        f"unexpected columns: {fmt(schema.get('unexpected_columns') or None)}</p>"
    )
    parts.append("<h3>Duplicate rows</h3>" + generic_section(quality.get("duplicates", {})))
    return "".join(parts)


#: report key -> renderer of that section's data; sections without an entry are drawn generically
SECTION_RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "drift": render_drift,
    "quality": render_quality,
    "performance": render_performance,
    "segments": render_segments,
    "fairness": render_fairness,
    "outliers": render_outliers,
    "explain": render_explain,
    "concept": render_concept,
    "multivariate": render_multivariate,
    "checks": render_checks,
}


def _header(report: Mapping[str, Any]) -> str:
    drift = report.get("drift") or {}
    quality = report.get("quality") or {}
    stats = [
        f"<span>reference rows: <b>{fmt(report.get('reference_rows'))}</b></span>",
        f"<span>current rows: <b>{fmt(report.get('current_rows'))}</b></span>",
    ]
    if drift.get("applicable") is not False and "dataset_drift" in drift:
        stats.append(f"<span>dataset drift: {verdict(drift.get('dataset_drift'))}</span>")
        stats.append(f"<span>drifted share: <b>{fmt(drift.get('drifted_share'))}</b></span>")
    if "issues" in quality:
        stats.append(f"<span>quality issues: <b>{len(quality['issues'])}</b></span>")
    generated = (
        f"generated {fmt(report.get('generated_at'))} by modelmon {fmt(report.get('modelmon_version'))}"
    )
    return (
        f'<header><h1>modelmon report</h1><div class="stats">{"".join(stats)}</div>'
        f'<div class="muted" style="color:#ccd">{generated}</div></header>'
    )


def render_html(report: Mapping[str, Any], title: str = "modelmon report") -> str:
    """The whole page for a report dict."""
    report = to_jsonable(report)
    keys = [key for key in report if key not in _HEADER_KEYS]
    nav = "".join(f'<a href="#section-{escape(key)}">{escape(key)}</a>' for key in keys)
    sections = []
    for key in keys:
        data = report[key]
        if key == "drift" and isinstance(data, dict):
            body = render_drift(data, report.get("distributions"))
        elif key in SECTION_RENDERERS and isinstance(data, dict):
            body = SECTION_RENDERERS[key](data)
        else:
            body = generic_section(data)
        sections.append(f'<section id="section-{escape(key)}"><h2>{escape(key)}</h2>{body}</section>')
    if "drift" not in report and report.get("distributions"):
        sections.append(
            f"<section><h2>distributions</h2>{render_distributions(report['distributions'])}</section>"
        )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>'
        f"<body>{_header(report)}<nav>{nav}</nav><main>{''.join(sections)}</main></body></html>\n"
    )


def write_html(path: str | os.PathLike[str], report: Mapping[str, Any]) -> Path:
    """Write the page (parent folders are created); returns the path."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(render_html(report), encoding="utf-8")
    return file
