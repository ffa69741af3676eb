"""The report as one self-contained HTML file: inline CSS and SVG, no script, nothing fetched.

It reads the report's plain data (``Report.to_dict()``), so a report stored as JSON can be drawn
again later. Each section is drawn by the fragment its module declares in the section registry
(:mod:`modelmon.sections`); any other key is drawn generically as tables, so new sections show up
before they get a fragment of their own.

>>> page = render_html({"reference_rows": 10, "current_rows": 12, "custom": {"value": "<b>"}})
>>> "&lt;b&gt;" in page and "<script" not in page
True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from modelmon import sections as registry
from modelmon.render.data_health import render_distributions
from modelmon.render.detection import render_checks
from modelmon.render.json import to_jsonable
from modelmon.render.widgets import fmt, generic_section, verdict

__all__ = ["render_html", "write_html"]

#: fragments of report keys that are not computed sections (the checks a pipeline ran)
EXTRA_FRAGMENTS = {"checks": render_checks}
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
    drawn = []
    fragments = {section.name: section.fragment for section in registry.REGISTRY if section.fragment}
    for key in keys:
        data = report[key]
        if key in fragments and isinstance(data, dict):
            body = fragments[key](data, report)
        elif key in EXTRA_FRAGMENTS and isinstance(data, dict):
            body = EXTRA_FRAGMENTS[key](data)
        else:
            body = generic_section(data)
        drawn.append(f'<section id="section-{escape(key)}"><h2>{escape(key)}</h2>{body}</section>')
    if "drift" not in report and report.get("distributions"):
        drawn.append(
            f"<section><h2>distributions</h2>{render_distributions(report['distributions'])}</section>"
        )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>'
        f"<body>{_header(report)}<nav>{nav}</nav><main>{''.join(drawn)}</main></body></html>\n"
    )


def write_html(path: str | os.PathLike[str], report: Mapping[str, Any]) -> Path:
    """Write the page (parent folders are created); returns the path."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(render_html(report), encoding="utf-8")
    return file
