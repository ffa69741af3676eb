"""HTML for drift per segment and for check results.

>>> page = render_segment_drift({"drift": {"zone": {"<b>": {"rows": 300, "reference_rows": 280,
...     "dataset_drift": True, "drifted_share": 1.0, "drifted_columns": ["x"]}}},
...     "drift_ranking": [{"segment": "zone=<b>", "rows": 300, "dataset_drift": True,
...                        "drifted_share": 1.0, "drifted_columns": ["x"]}]})
>>> "zone=&lt;b&gt;" in page and "<b>" not in page.replace("<b>Drift", "")
True
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from modelmon.render.widgets import badge, fmt, table

__all__ = ["render_checks", "render_segment_drift"]


def render_segment_drift(section: Mapping[str, Any]) -> str:
    """Segments ranked by their share of drifted features, then the too-small ones."""
    drift = section.get("drift")
    if not isinstance(drift, Mapping):
        return ""
    if drift.get("applicable") is False:
        return f'<h3>Drift per segment</h3><p class="muted">{escape(str(drift.get("reason", "")))}</p>'
    rows = [
        [
            escape(str(item.get("segment"))),
            fmt(item.get("rows")),
            fmt(item.get("drifted_share")),
            escape(", ".join(map(str, item.get("drifted_columns") or [])) or "-"),
            badge(item.get("dataset_drift"), "drift"),
        ]
        for item in section.get("drift_ranking") or []
    ]
    parts = ["<h3>Drift per segment (against the same segment of the reference)</h3>"]
    headers = ["segment", "rows", "drifted share", "drifted columns", ""]
    parts.append(table(headers, rows) if rows else "<p>No segment large enough to test.</p>")
    small = [
        f"{column}={value}"
        for column, values in (section.get("drift_too_small") or {}).items()
        for value in values
    ]
    if small:
        parts.append(f'<p class="muted">Too small to test: {escape(", ".join(small))}</p>')
    return "".join(parts)


def render_checks(section: Mapping[str, Any]) -> str:
    """Each check's outcome, failed ones first."""
    checks = sorted(section.get("checks") or [], key=lambda check: bool(check.get("passed")))
    rows = [
        [
            badge(not check.get("passed"), "fail", "pass"),
            escape(str(check.get("name"))),
            fmt(check.get("actual")),
            escape(str(check.get("condition"))),
            escape(str(check.get("detail") or "")),
        ]
        for check in checks
    ]
    verdict = "all passed" if section.get("passed") else f"{section.get('failed')} failed"
    summary = f"<p>{fmt(section.get('total'))} checks ({escape(str(section.get('conditions', '')))}): "
    return summary + f"<b>{escape(verdict)}</b></p>" + table(["", "check", "value", "condition", "why"], rows)
