"""The data sections' HTML fragments: drift (with the distributions and embeddings) and quality."""

from __future__ import annotations

import math
from collections.abc import Mapping
from html import escape
from typing import Any

from modelmon.render import svg
from modelmon.render.approximations import approximation_text
from modelmon.render.widgets import fmt, generic_section, table, verdict

__all__ = ["drift_severity", "render_distributions", "render_drift", "render_embeddings", "render_quality"]


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
