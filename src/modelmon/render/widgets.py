"""The HTML widgets every section fragment draws with: formatted cells, tables, badges, frames.

A leaf module: fragments import it, it imports no fragment and no page, so the page and its
fragments have no import circle.

>>> table(["column", "drift"], [["x", verdict(True)]]).count("<tr>")
2
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

__all__ = [
    "MAX_TABLE_ROWS",
    "badge",
    "fmt",
    "generic_section",
    "not_applicable",
    "short",
    "svg_frame",
    "table",
    "verdict",
]

#: rows beyond this in one generic table are summarised, so a huge section cannot bloat the page
MAX_TABLE_ROWS = 200


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
    """A drift badge: drift, ok, or n/a when there was no verdict."""
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


def badge(flag: Any, bad: str, good: str = "ok") -> str:
    """A coloured badge: ``bad`` when ``flag`` is true, ``good`` when false, n/a when it is None.

    >>> badge(True, "drift")
    '<span class="badge bad">drift</span>'
    """
    if flag is None:
        return '<span class="badge na">n/a</span>'
    kind, text = ("bad", bad) if flag else ("good", good)
    return f'<span class="badge {kind}">{escape(text)}</span>'


def not_applicable(section: Mapping[str, Any]) -> str:
    """The line of a section that does not apply, with its reason."""
    return f'<p class="muted">Not applicable: {escape(str(section.get("reason", "")))}</p>'


def short(label: str, length: int = 18) -> str:
    """``label`` cut to ``length`` characters with an ellipsis (chart labels).

    >>> short("trip_distance_in_miles", 10)
    'trip_dist\u2026'
    """
    return label if len(label) <= length else label[: length - 1] + "\u2026"


def svg_frame(width: int, height: int, body: str, label: str) -> str:
    """An inline SVG element of ``body``, labelled for screen readers."""
    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}">{body}</svg>'
    )
