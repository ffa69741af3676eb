"""HTML for the model-insight sections: outliers, explainability, concept drift, multivariate drift.

Pure functions from a section's plain data to an HTML fragment; every text is escaped and the
charts are inline SVG: attribution bars (reference above current), the outlier score histogram, the
error stream with the detected change points marked, and the features that separate the samples.

>>> page = render_explain({"applicable": True, "source": "model", "method": "shap.TreeExplainer",
...     "detected": True, "top_feature_changed": True, "ranking": {"reference": ["<x>"], "current": ["<x>"]},
...     "features": {"<x>": {"reference": 1.0, "current": 2.0, "reference_share": 1.0, "current_share": 1.0,
...     "share_change": 0.0, "relative_change": 1.0, "drifted": False}}})
>>> "&lt;x&gt;" in page and "<svg" in page and "<x>" not in page
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from modelmon.render.svg import CURRENT_COLOR, DRIFT_COLOR, REFERENCE_COLOR, histogram
from modelmon.render.widgets import badge, fmt, not_applicable, short, svg_frame, table

__all__ = [
    "attribution_bars",
    "error_stream_chart",
    "importance_bars",
    "render_concept",
    "render_explain",
    "render_multivariate",
    "render_outliers",
]

#: colours of the change points of each detector (others fall back to the drift colour)
DETECTOR_COLORS = {"adwin": "#9467bd", "page_hinkley": "#d62728", "ddm": "#8c564b"}


def _legend(*entries: tuple[str, str]) -> str:
    spans = "".join(f'<span style="color:{color}">&#9632; {escape(text)}</span>' for text, color in entries)
    return f'<div class="legend">{spans}</div>'


def attribution_bars(
    features: Sequence[str],
    reference: Sequence[float | None],
    current: Sequence[float | None],
    width: int = 420,
) -> str:
    """Horizontal bars per feature: mean |attribution| on the reference (above) and current (below).

    >>> attribution_bars(["a", "b"], [1.0, 0.5], [0.2, None]).count("<rect")
    3
    """
    row, label_width = 24, 130
    values = [value for value in (*reference, *current) if value is not None]
    scale = (width - label_width - 60) / max([*values, 1e-12])
    parts = []
    for i, name in enumerate(features):
        y = 2 + i * row
        parts.append(f'<text x="0" y="{y + 14}" font-size="11">{escape(short(name))}</text>')
        for offset, value, color in ((0, reference[i], REFERENCE_COLOR), (10, current[i], CURRENT_COLOR)):
            if value is None:
                continue
            length = max(value * scale, 0.5)
            parts.append(
                f'<rect x="{label_width}" y="{y + offset}" width="{length:.1f}" height="9" fill="{color}"/>'
                f'<text x="{label_width + length + 4:.1f}" y="{y + offset + 8}" font-size="9">'
                f"{escape(f'{value:.3g}')}</text>"
            )
    return svg_frame(width, row * len(features) + 4, "".join(parts), "mean absolute attribution per feature")


def importance_bars(features: Sequence[str], importances: Sequence[float], width: int = 420) -> str:
    """Horizontal bars of permutation importance (drop in AUC), negative values drawn as zero.

    >>> importance_bars(["a", "b"], [0.3, -0.01]).count("<rect")
    2
    """
    row, label_width = 20, 130
    scale = (width - label_width - 60) / max([*importances, 1e-12])
    parts = []
    for i, (name, value) in enumerate(zip(features, importances, strict=True)):
        y = 2 + i * row
        length = max(value, 0.0) * scale
        parts.append(
            f'<text x="0" y="{y + 12}" font-size="11">{escape(short(name))}</text>'
            f'<rect x="{label_width}" y="{y + 2}" width="{length:.1f}" height="11" fill="{CURRENT_COLOR}"/>'
            f'<text x="{label_width + length + 4:.1f}" y="{y + 12}" font-size="9">'
            f"{escape(f'{value:.3g}')}</text>"
        )
    return svg_frame(
        width, row * len(features) + 4, "".join(parts), "features separating reference and current"
    )


def error_stream_chart(
    index: Sequence[int],
    errors: Sequence[float],
    changes: Mapping[str, Sequence[int]],
    rows: int,
    width: int = 640,
    height: int = 180,
) -> str:
    """The error stream (mean error per bucket of rows) with a dashed line at each detected change.

    >>> chart = error_stream_chart([0, 10, 20], [1.0, 1.2, 3.0], {"adwin": [18]}, rows=30)
    >>> chart.count("<polyline"), chart.count("stroke-dasharray")
    (1, 1)
    """
    left, bottom, top_margin = 40, 20, 8
    plot_width, plot_height = width - left - 10, height - bottom - top_margin
    top = max([*errors, 1e-12])

    def x(position: float) -> float:
        return left + plot_width * position / max(rows, 1)

    def y(value: float) -> float:
        return top_margin + plot_height * (1 - value / top)

    bottom_y = top_margin + plot_height
    points = " ".join(f"{x(i):.1f},{y(e):.1f}" for i, e in zip(index, errors, strict=True))
    parts = [
        f'<line x1="{left}" y1="{bottom_y}" x2="{width - 10}" y2="{bottom_y}" stroke="#888"/>',
        f'<line x1="{left}" y1="{top_margin}" x2="{left}" y2="{bottom_y}" stroke="#888"/>',
        f'<text x="{left - 4}" y="{top_margin + 8}" font-size="9" text-anchor="end">{top:.3g}</text>',
        f'<text x="{left - 4}" y="{bottom_y}" font-size="9" text-anchor="end">0</text>',
        f'<text x="{width - 10}" y="{height - 4}" font-size="9" text-anchor="end">row {rows}</text>',
        f'<polyline points="{points}" fill="none" stroke="{REFERENCE_COLOR}" stroke-width="1.5"/>',
    ]
    for name, positions in changes.items():
        color = DETECTOR_COLORS.get(name, DRIFT_COLOR)
        for position in positions:
            parts.append(
                f'<line x1="{x(position):.1f}" y1="{top_margin}" x2="{x(position):.1f}" '
                f'y2="{top_margin + plot_height}" stroke="{color}" stroke-dasharray="4 3">'
                f"<title>{escape(name)} at row {position}</title></line>"
            )
    return svg_frame(width, height, "".join(parts), "error stream with detected change points")


def render_outliers(section: Mapping[str, Any]) -> str:
    """Outlier share against the expected one, the score histogram, rule violations, the top rows."""
    if section.get("applicable") is False:
        return not_applicable(section)
    summary = (
        f"<p>{badge(section.get('detected'), 'more outliers than expected')} "
        f"outlier share <b>{fmt(section.get('share'))}</b> (expected {fmt(section.get('expected_share'))}, "
        f"reference {fmt(section.get('reference_share'))}, p = {fmt(section.get('p_value'))}); "
        f"rows breaking a range rule: <b>{fmt(section.get('rule_share'))}</b></p>"
    )
    chart = ""
    shape = section.get("histogram")
    if shape:
        chart = _legend(("reference", REFERENCE_COLOR), ("current", CURRENT_COLOR)) + histogram(
            shape["bins"], shape["reference"], shape["current"], width=420
        )
    rules = [
        [
            escape(name),
            fmt(column.get("low")),
            fmt(column.get("high")),
            fmt(column.get("current_violations")),
            fmt(column.get("current_share")),
            fmt(column.get("reference_share")),
        ]
        for name, column in section.get("columns", {}).items()
        if column.get("current_violations")
    ]
    rule_table = (
        table(["column", "low", "high", "violations", "share", "reference share"], rules)
        if rules
        else "<p>No value outside the reference range.</p>"
    )
    top_rows = section.get("top_rows", [])
    feature_names = list(top_rows[0]["features"]) if top_rows else []
    rows = [
        [
            fmt(row.get("id") or row.get("row")),
            fmt(row.get("score")),
            fmt(", ".join(row.get("rules", [])) or None),
            *(fmt(row["features"].get(name)) for name in feature_names),
        ]
        for row in top_rows
    ]
    top_table = table(["row", "score", "rules broken", *feature_names], rows) if rows else ""
    return (
        f"{summary}<h3>Outlier scores</h3>{chart}<h3>Range rules</h3>{rule_table}"
        f"<h3>Top outlier rows (current sample)</h3>{top_table}"
        f'<p class="muted">{escape(str(section.get("method", "")))}</p>'
    )


def render_explain(section: Mapping[str, Any]) -> str:
    """Attribution bars, reference against current, and the per-feature drift table."""
    if section.get("applicable") is False:
        return not_applicable(section)
    features = section.get("features")
    summary = (
        f"<p>{badge(section.get('detected'), 'attribution drift')} "
        f"source: {escape(str(section.get('source')))} ({escape(str(section.get('method', '')))}"
        f"{', output: ' + escape(str(section['output'])) if section.get('output') else ''})</p>"
    )
    if not features:
        current = section.get("current", {})
        names = section.get("ranking", {}).get("current", list(current))
        return summary + attribution_bars(names, [None] * len(names), [current[name] for name in names])
    names = section.get("ranking", {}).get("reference") or list(features)
    chart = _legend(("reference", REFERENCE_COLOR), ("current", CURRENT_COLOR)) + attribution_bars(
        names, [features[name]["reference"] for name in names], [features[name]["current"] for name in names]
    )
    rows = [
        [
            escape(name),
            fmt(features[name]["reference"]),
            fmt(features[name]["current"]),
            fmt(features[name]["reference_share"]),
            fmt(features[name]["current_share"]),
            fmt(features[name]["relative_change"]),
            badge(features[name]["drifted"], "drift"),
        ]
        for name in names
    ]
    headers = [
        "feature",
        "reference mean |attr|",
        "current",
        "reference share",
        "current share",
        "change",
        "",
    ]
    changed = "<p>The most important feature changed.</p>" if section.get("top_feature_changed") else ""
    return f"{summary}{changed}{chart}{table(headers, rows)}"


def render_concept(section: Mapping[str, Any]) -> str:
    """The error stream with each detector's change points, the detections and the performance change."""
    if section.get("applicable") is False:
        return not_applicable(section)
    detectors = section.get("detectors", {})
    changes = {name: [item["index"] for item in found["detections"]] for name, found in detectors.items()}
    series = section.get("series", {"index": [], "error": []})
    chart = ""
    if series["index"]:
        chart = _legend(
            (f"mean {section.get('error', 'error')}", REFERENCE_COLOR),
            *((f"{name} change", DETECTOR_COLORS.get(name, DRIFT_COLOR)) for name in detectors),
        ) + error_stream_chart(series["index"], series["error"], changes, int(section.get("rows", 0)))
    rows = [
        [
            escape(name),
            badge(found.get("detected"), "change"),
            fmt(
                ", ".join(
                    f"{item['index']} ({item['timestamp']})" if item.get("timestamp") else str(item["index"])
                    for item in found["detections"][:10]
                )
                or None
            ),
        ]
        for name, found in detectors.items()
    ]
    performance = section.get("performance", {})
    perf = (
        f"<p>{escape(str(performance.get('metric')))}: reference {fmt(performance.get('reference'))}, "
        f"current {fmt(performance.get('current'))} (change {fmt(performance.get('change'))}, "
        f"relative {fmt(performance.get('relative_change'))}; "
        f"from the {escape(str(performance.get('source')))})</p>"
    )
    return (
        f"<p>{badge(section.get('detected'), 'concept drift')} {fmt(section.get('rows'))} labelled rows in "
        f"time order; baseline: {escape(str(section.get('baseline')))}</p>{chart}"
        f"{table(['detector', '', 'change points (row, time)'], rows)}{perf}"
    )


def render_multivariate(section: Mapping[str, Any]) -> str:
    """The domain classifier's AUC against its threshold, and the features that separate the samples."""
    if section.get("applicable") is False:
        return not_applicable(section)
    features = section.get("features", [])[:15]
    chart = importance_bars([item["feature"] for item in features], [item["importance"] for item in features])
    return (
        f"<p>{badge(section.get('detected'), 'multivariate drift')} "
        f"ROC AUC <b>{fmt(section.get('auc'))}</b> (drift at {fmt(section.get('threshold'))}; "
        f"{fmt(section.get('reference_rows'))} reference and "
        f"{fmt(section.get('current_rows'))} current rows)</p>"
        f"<h3>Features that separate the samples</h3>{chart}"
        f'<p class="muted">{escape(str(section.get("method", "")))}</p>'
    )
