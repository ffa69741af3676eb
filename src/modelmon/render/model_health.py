"""HTML for the model-health sections: performance, segments and fairness.

Pure functions from a section's plain data to an HTML fragment; every text is escaped and the
charts are inline SVG (bars for the current value, a dark tick for the same value on the reference).

>>> page = render_segments({"applicable": True, "metric": "mae", "worst": [], "degraded": [],
...     "columns": {"zone": {"too_small": [], "values": {"<a>": {"rows": 40, "labelled_rows": 40,
...     "metrics": {"mae": 2.0}, "reference": {"mae": 1.0}, "degraded": True}}}}})
>>> "&lt;a&gt;" in page and "<svg" in page and "<a>" not in page
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from modelmon.render.svg import CURRENT_COLOR, DRIFT_COLOR, REFERENCE_COLOR
from modelmon.render.widgets import badge, fmt, not_applicable, short, svg_frame, table

__all__ = ["metric_bars", "render_fairness", "render_performance", "render_segments"]


def metric_bars(
    rows: Sequence[tuple[str, float | None, float | None, bool]], title: str, width: int = 420
) -> str:
    """Horizontal bars ``(label, current, reference, highlighted)``: the bar is the current value
    (its length the magnitude), the tick the reference; highlighted bars are red."""
    row, label_width = 20, 120
    height = row * len(rows) + 6
    values = [abs(v) for _, current, reference, _ in rows for v in (current, reference) if v is not None]
    top = max([*values, 1e-12])
    scale = (width - label_width - 60) / top
    parts = []
    for i, (label, current, reference, highlighted) in enumerate(rows):
        y = 3 + i * row
        parts.append(f'<text x="0" y="{y + 13}" font-size="11">{escape(short(label))}</text>')
        if current is None:
            parts.append(f'<text x="{label_width}" y="{y + 13}" font-size="10" fill="#777">no value</text>')
        else:
            color = DRIFT_COLOR if highlighted else CURRENT_COLOR
            length = abs(current) * scale
            # the value is written past the reference tick too, so the two never overlap
            text_x = label_width + max(length, abs(reference or 0.0) * scale) + 6
            parts.append(
                f'<rect x="{label_width}" y="{y + 2}" width="{length:.1f}" height="13" fill="{color}"/>'
                f'<text x="{text_x:.1f}" y="{y + 13}" font-size="10">{escape(f"{current:.4g}")}</text>'
            )
        if reference is not None:
            mark = label_width + abs(reference) * scale
            parts.append(
                f'<line x1="{mark:.1f}" y1="{y}" x2="{mark:.1f}" y2="{y + 17}" stroke="{REFERENCE_COLOR}" '
                'stroke-width="3"/>'
            )
    return svg_frame(width, height, "".join(parts), title)


def _legend() -> str:
    return (
        f'<div class="legend"><span style="color:{CURRENT_COLOR}">&#9632; current</span>'
        f'<span style="color:{REFERENCE_COLOR}">| reference</span>'
        f'<span style="color:{DRIFT_COLOR}">&#9632; flagged</span></div>'
    )


def _metrics_table(section: Mapping[str, Any], estimated: Mapping[str, Any] | None) -> str:
    current, reference = section.get("current", {}), section.get("reference", {})
    delta, relative = section.get("delta", {}), section.get("relative_change", {})
    guess = estimated.get("current", {}) if estimated and estimated.get("applicable") else {}
    headers = ["metric", "reference", "current", "delta", "relative change"]
    if guess:
        headers.append(f"estimated ({(estimated or {}).get('method', 'CBPE')})")
    rows = []
    for name in current:
        row = [escape(name), fmt(reference.get(name)), fmt(current.get(name)), fmt(delta.get(name))]
        row.append(fmt(relative.get(name)))
        if guess:
            row.append(fmt(guess.get(name)))
        rows.append(row)
    return table(headers, rows)


def _estimated_only(estimated: Mapping[str, Any]) -> str:
    if not estimated.get("applicable"):
        return f'<p class="muted">Estimated performance: {escape(str(estimated.get("reason", "")))}</p>'
    now, before = estimated.get("current", {}), estimated.get("reference", {})
    rows = [[escape(name), fmt(before.get(name)), fmt(value)] for name, value in now.items()]
    return (
        f"<h3>Estimated performance ({escape(str(estimated.get('method', 'CBPE')))}, no labels needed)</h3>"
        + table(["metric", "reference (estimated)", "current (estimated)"], rows)
        + f'<p class="muted">{escape(str(estimated.get("note", "")))}</p>'
    )


def render_performance(section: dict[str, Any]) -> str:
    """Current against reference metrics, the CBPE estimate beside them, and the confusion matrix."""
    estimated = section.get("estimated") or {}
    if section.get("applicable") is False:
        return not_applicable(section) + (_estimated_only(estimated) if estimated else "")
    parts = [
        f'<p class="stats"><span>labelled rows: <b>{fmt(section.get("labelled_rows"))}</b></span>'
        f"<span>awaiting target: <b>{fmt(section.get('unlabelled_rows'))}</b></span>"
        f"<span>invalid: <b>{fmt(section.get('invalid_rows'))}</b></span></p>",
        _metrics_table(section, estimated),
    ]
    bars = [
        (name, value, section.get("reference", {}).get(name), False)
        for name, value in section.get("current", {}).items()
        if name in ("accuracy", "precision", "recall", "f1", "roc_auc")
    ]
    if bars:
        parts.append(metric_bars(bars, "current and reference metrics") + _legend())
    confusion = section.get("confusion")
    if confusion:
        labels = [str(label) for label in confusion["labels"]]
        rows = [
            [f"<b>{escape(label)}</b>", *(fmt(count) for count in counts)]
            for label, counts in zip(labels, confusion["counts"], strict=False)
        ]
        parts.append("<h3>Confusion matrix (rows: true, columns: predicted)</h3>")
        parts.append(table(["", *labels], rows))
    if estimated and not estimated.get("applicable"):
        parts.append(_estimated_only(estimated))
    notes = section.get("notes") or []
    if notes:
        parts.append(
            "<ul>" + "".join(f'<li class="muted">{escape(str(note))}</li>' for note in notes) + "</ul>"
        )
    return "".join(parts)


def render_segments(section: dict[str, Any]) -> str:
    """The worst segments first, then per segment column the metric per value against the reference."""
    from modelmon.render.detection import render_segment_drift

    if section.get("applicable") is False:
        return not_applicable(section)
    if section.get("performance_reason"):
        reason = escape(str(section["performance_reason"]))
        return f'<p class="muted">Performance per segment: {reason}</p>' + render_segment_drift(section)
    metric = str(section.get("metric", ""))
    worst = section.get("worst") or []
    rows = [
        [
            escape(str(item.get("column"))),
            escape(str(item.get("value"))),
            fmt(item.get("reference")),
            fmt(item.get("current")),
            fmt(item.get("degradation")),
            fmt(item.get("z")),
            badge(item.get("degraded"), "degraded"),
        ]
        for item in worst
    ]
    parts = [f"<h3>Worst segments by {escape(metric)}</h3>"]
    headers = ["column", "value", f"reference {metric}", f"current {metric}", "degradation", "z", ""]
    parts.append(table(headers, rows) if rows else "<p>No segment large enough to rank.</p>")
    for column, data in (section.get("columns") or {}).items():
        bars = []
        for value, entry in data.get("values", {}).items():
            current = None if entry.get("too_small") else entry.get("metrics", {}).get(metric)
            bars.append(
                (str(value), current, entry.get("reference", {}).get(metric), bool(entry.get("degraded")))
            )
        small = data.get("too_small") or []
        parts.append(
            f'<div class="card"><h3>{escape(str(column))}: {escape(metric)} per value</h3>'
            f"{metric_bars(bars, f'{metric} per {column}')}{_legend()}"
            + (
                f'<p class="muted">Too small to measure: {escape(", ".join(map(str, small)))}</p>'
                if small
                else ""
            )
            + "</div>"
        )
    parts.append(render_segment_drift(section))
    return "".join(parts)


def _group_charts(attribute: str, result: Mapping[str, Any]) -> str:
    groups = result.get("groups", {})
    before = result.get("reference", {}).get("groups", {})
    metrics = ("mae", "mean_prediction") if "max_error_gap" in result else ("selection_rate", "tpr", "fpr")
    lowest = result.get("lowest_selection_rate_group") or result.get("worst_group")
    charts = []
    for metric in metrics:
        bars = [
            (
                str(name),
                None if group.get("too_small") else group.get(metric),
                before.get(name, {}).get(metric),
                bool(result.get("flagged")) and name == lowest,
            )
            for name, group in groups.items()
        ]
        chart = metric_bars(bars, f"{metric} per {attribute}", 360)
        charts.append(f'<div class="card"><h3>{escape(metric)}</h3>{chart}</div>')
    return '<div class="grid">' + "".join(charts) + "</div>" + _legend()


def render_fairness(section: dict[str, Any]) -> str:
    """Per sensitive attribute: the fairness aggregates now and on the reference, and per-group bars."""
    if section.get("applicable") is False:
        return not_applicable(section)
    parts = []
    for attribute, result in (section.get("attributes") or {}).items():
        regression = "max_error_gap" in result
        keys = (
            ("max_error_gap", "mae_ratio", "mean_prediction_gap", "worst_group")
            if regression
            else (
                "demographic_parity_difference",
                "demographic_parity_ratio",
                "equalized_odds_difference",
                "lowest_selection_rate_group",
            )
        )
        before = result.get("reference", {})
        rows = [[escape(key), fmt(before.get(key)), fmt(result.get(key))] for key in keys]
        small = result.get("too_small") or []
        parts.append(
            f"<h3>{escape(str(attribute))} {badge(result.get('flagged'), 'worse than reference')} "
            f"{badge(result.get('above_threshold'), 'above threshold', 'within threshold')}</h3>"
            + table(["", "reference", "current"], rows)
            + _group_charts(str(attribute), result)
            + (
                f'<p class="muted">Too small to measure: {escape(", ".join(map(str, small)))}</p>'
                if small
                else ""
            )
        )
    return "".join(parts) or "<p>No sensitive attribute.</p>"
