"""Small inline SVG charts for the HTML report, drawn from already-aggregated data.

Every text goes through :func:`html.escape`; the charts reference nothing outside themselves.

>>> chart = histogram([0.0, 1.0, 2.0], [0.5, 0.5], [0.25, 0.75])
>>> chart.startswith("<svg") and chart.count("<rect") == 2 and "<polyline" in chart
True
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["CURRENT_COLOR", "REFERENCE_COLOR", "category_bars", "histogram", "score_bar"]

REFERENCE_COLOR = "#4c78a8"
CURRENT_COLOR = "#f58518"
DRIFT_COLOR = "#d62728"
OK_COLOR = "#2ca02c"


def _number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        return f"{value:.2e}"
    return f"{value:.4g}"


def _svg(width: int, height: int, body: str, label: str) -> str:
    return (
        f'<svg width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">{body}</svg>'
    )


def histogram(
    bins: Sequence[float],
    reference: Sequence[float],
    current: Sequence[float],
    width: int = 360,
    height: int = 140,
) -> str:
    """Reference and current shares per bin, overlaid, with the range written under the axis."""
    top = max([*reference, *current, 1e-12])
    plot_height = height - 22
    bar_width = (width - 10) / max(len(reference), 1)
    parts = []
    for i, share in enumerate(reference):
        bar = plot_height * share / top
        parts.append(
            f'<rect x="{5 + i * bar_width:.1f}" y="{plot_height - bar:.1f}" width="{bar_width:.1f}" '
            f'height="{bar:.1f}" fill="{REFERENCE_COLOR}" fill-opacity="0.45"/>'
        )
    # the current distribution as a step outline, so both stay readable where they overlap
    points = [f"5,{plot_height}"]
    for i, share in enumerate(current):
        y = plot_height - plot_height * share / top
        points += [f"{5 + i * bar_width:.1f},{y:.1f}", f"{5 + (i + 1) * bar_width:.1f},{y:.1f}"]
    points.append(f"{5 + len(current) * bar_width:.1f},{plot_height}")
    parts.append(
        f'<polyline points="{" ".join(points)}" fill="none" stroke="{CURRENT_COLOR}" stroke-width="2"/>'
    )
    parts.append(f'<line x1="5" y1="{plot_height}" x2="{width - 5}" y2="{plot_height}" stroke="#888"/>')
    parts.append(f'<text x="5" y="{height - 6}" font-size="10">{escape(_number(bins[0]))}</text>')
    parts.append(
        f'<text x="{width - 5}" y="{height - 6}" font-size="10" text-anchor="end">'
        f"{escape(_number(bins[-1]))}</text>"
    )
    return _svg(width, height, "".join(parts), "reference and current distribution")


def category_bars(
    labels: Sequence[str], reference: Sequence[float], current: Sequence[float], width: int = 360
) -> str:
    """Horizontal bars per category: reference above current, shares as percentages."""
    row = 22
    height = row * len(labels) + 4
    label_width = 110
    top = max([*reference, *current, 1e-12])
    scale = (width - label_width - 50) / top
    parts = []
    for i, label in enumerate(labels):
        y = 2 + i * row
        shown = label if len(label) <= 16 else label[:15] + "\u2026"
        parts.append(f'<text x="0" y="{y + 14}" font-size="10">{escape(shown)}</text>')
        for offset, share, color in ((0, reference[i], REFERENCE_COLOR), (10, current[i], CURRENT_COLOR)):
            parts.append(
                f'<rect x="{label_width}" y="{y + offset}" width="{share * scale:.1f}" height="9" '
                f'fill="{color}"/>'
            )
        parts.append(
            f'<text x="{label_width + max(reference[i], current[i]) * scale + 4:.1f}" y="{y + 14}" '
            f'font-size="9">{current[i]:.1%}</text>'
        )
    return _svg(width, height, "".join(parts), "reference and current category shares")


def score_bar(score: float | None, threshold: float | None, detected: bool, width: int = 160) -> str:
    """One drift score as a bar, with the threshold as a vertical line."""
    height = 14
    if score is None or threshold is None:
        return _svg(width, height, "", "no score")
    top = max(score, threshold, 1e-12) * 1.15
    color = DRIFT_COLOR if detected else OK_COLOR
    mark = width * threshold / top
    body = (
        f'<rect x="0" y="2" width="{width * score / top:.1f}" height="10" fill="{color}"/>'
        f'<line x1="{mark:.1f}" y1="0" x2="{mark:.1f}" y2="{height}" stroke="#222" stroke-width="2"/>'
    )
    return _svg(width, height, body, f"score {_number(score)}, threshold {_number(threshold)}")
