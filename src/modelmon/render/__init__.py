"""Rendering a report: as JSON (:mod:`modelmon.render.json`) and as one self-contained HTML file
(:mod:`modelmon.render.html`). Renderers read the report's plain data; they compute nothing."""

from __future__ import annotations
