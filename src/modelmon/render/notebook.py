"""A report in a notebook: the HTML page of ``save_html`` in a cell, and its per-column tables as
DataFrames, as Evidently and NannyML users are used to.

>>> import pandas as pd
>>> from modelmon.engine.build import build_report
>>> from modelmon.schema import Schema
>>> reference = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0] * 25, "zone": list("abca") * 25})
>>> current = pd.DataFrame({"x": [5.0, 2.0, None, 4.0] * 25, "zone": list("abzz") * 25})
>>> report = build_report(reference, current, Schema(numerical=["x"], categorical=["zone"]))
>>> float(report.to_frame("quality").loc["zone", "new_category_share"])
0.5
>>> drift = report.to_frame("drift")
>>> drift.loc["x", "method"], bool(drift.loc["x", "detected"])
('chisquare', True)
>>> report._repr_html_().startswith('<iframe srcdoc="&lt;!DOCTYPE html&gt;')
True
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

import pandas as pd

__all__ = ["CELL_HEIGHT", "FRAME_SECTIONS", "cell_html", "column_frame"]

#: the sections with a table of one row per column, and where that table is in their JSON
FRAME_SECTIONS = ("drift", "quality")
#: pixels of a notebook cell given to the report page (it scrolls inside)
CELL_HEIGHT = 640


def cell_html(page: str) -> str:
    """``page`` (a whole HTML document) in an iframe sized for a notebook cell: its styles stay its
    own and it opens offline, as the saved file does."""
    return (
        f'<iframe srcdoc="{escape(page, quote=True)}" title="modelmon report" '
        f'style="width: 100%; height: {CELL_HEIGHT}px; border: 1px solid #ddd;"></iframe>'
    )


def column_frame(report: Mapping[str, Any], section: str) -> pd.DataFrame:
    """One row per column of the ``drift`` or ``quality`` section of a report's JSON, indexed by
    column; values that are lists or mappings (new categories, notes) are left as they are."""
    if section not in FRAME_SECTIONS:
        raise ValueError(f"section must be one of {', '.join(FRAME_SECTIONS)}, got {section!r}")
    data = report.get(section) or {}
    if data.get("applicable") is False:
        raise ValueError(f"the {section} section does not apply: {data.get('reason') or data.get('error')}")
    columns = data.get("columns") or {}
    frame = pd.DataFrame.from_dict({name: dict(info) for name, info in columns.items()}, orient="index")
    frame.index.name = "column"
    return frame
