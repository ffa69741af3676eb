"""A finished report (:class:`Report`): its sections' results, row counts, schema and the column
distributions drawn in its page, written as JSON or as one self-contained HTML file.

>>> report = Report({"drift": {"applicable": True}}, reference_rows=10, current_rows=5, schema=Schema())
>>> data = report.to_dict()
>>> data["current_rows"], data["drift"], data["quality"]["applicable"]
(5, {'applicable': True}, False)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelmon.engine.columns import CategoricalColumn, NumericalColumn
from modelmon.engine.profile import Profile
from modelmon.engine.report import not_applicable
from modelmon.schema import Schema

__all__ = ["Report", "column_distributions"]

#: display bins of the numerical distributions in the report
DISPLAY_BINS = 30
#: categories drawn by name in the report; the rest are summed as "(other)" (not "other": a real value)
DISPLAY_CATEGORIES = 20


@dataclass
class Report:
    """A finished report: plain data, written as JSON or as one self-contained HTML file."""

    sections: dict[str, Any]
    reference_rows: int
    current_rows: int
    schema: Schema
    distributions: dict[str, Any] = field(default_factory=dict)
    generated_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    reference_profile: Profile | None = field(default=None, repr=False, compare=False)
    current_profile: Profile | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Every key of the report JSON; sections that are not available say why."""
        from modelmon import __version__

        data: dict[str, Any] = {
            "modelmon_version": __version__,
            "generated_at": self.generated_at,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "schema": self.schema.to_dict(),
        }
        from modelmon.engine.sections import section_names

        # every registered section has its key, in order; one not run says why
        for key in section_names():
            if key in self.sections:
                data[key] = self.sections[key]
            else:
                data[key] = not_applicable(f"the {key} section was not requested for this report")
        data.update({key: value for key, value in self.sections.items() if key not in data})
        data["distributions"] = self.distributions
        return data

    def save_json(self, path: str | os.PathLike[str]) -> Path:
        from modelmon.render.json import write_json

        return write_json(path, self.to_dict())

    def save_html(self, path: str | os.PathLike[str]) -> Path:
        from modelmon.render.html import write_html

        return write_html(path, self.to_dict())

    def to_frame(self, section: str = "drift") -> pd.DataFrame:
        """The ``drift`` or ``quality`` table, one row per column (see :mod:`modelmon.render.notebook`)."""
        from modelmon.render.notebook import column_frame

        return column_frame(self.sections, section)

    def _repr_html_(self) -> str:
        """The page of :meth:`save_html`, shown in a notebook cell."""
        from modelmon.render.html import render_html
        from modelmon.render.notebook import cell_html

        return cell_html(render_html(self.to_dict()))


def _numerical_distribution(reference: NumericalColumn, current: NumericalColumn) -> dict[str, Any] | None:
    if not (reference.count or current.count):
        return None
    low = min(reference.min, current.min)
    high = max(reference.max, current.max)
    if high <= low:
        high = low + 1.0
    bins = np.linspace(low, high, DISPLAY_BINS + 1)

    def shares(column: NumericalColumn) -> list[float]:
        filled = column.cell_counts > 0
        # each cell's mass is drawn at the mean of its values (exactly the edge for an edge cell)
        where = column.cell_sums[filled] / column.cell_counts[filled]
        counts, _ = np.histogram(np.clip(where, low, high), bins=bins, weights=column.cell_counts[filled])
        return (counts / column.count).tolist() if column.count else [0.0] * DISPLAY_BINS

    return {
        "kind": "numerical",
        "bins": bins.tolist(),
        "reference": shares(reference),
        "current": shares(current),
    }


def _categorical_distribution(reference: CategoricalColumn, current: CategoricalColumn) -> dict[str, Any]:
    names = list(reference.values)
    totals = {name: int(reference.counts[i] + current.counts[i]) for i, name in enumerate(names)}
    totals.update({name: totals.get(name, 0) + count for name, count in current.unseen.items()})
    shown = sorted(totals, key=lambda name: (-totals[name], name))[:DISPLAY_CATEGORIES]

    def shares(column: CategoricalColumn) -> list[float]:
        index = {name: i for i, name in enumerate(column.values)}
        counts = [
            int(column.counts[index[name]]) if name in index else column.unseen.get(name, 0) for name in shown
        ]
        counts.append(column.count - sum(counts))
        return [count / column.count if column.count else 0.0 for count in counts]

    return {
        "kind": "categorical",
        "labels": [*shown, "(other)"],
        "reference": shares(reference),
        "current": shares(current),
    }


def column_distributions(reference: Profile, current: Profile) -> dict[str, Any]:
    """Reference and current shares per column, aggregated from the profile cells for drawing."""
    result: dict[str, Any] = {}
    for name, column in reference.columns.items():
        other = current.columns[name]
        if isinstance(column, NumericalColumn) and isinstance(other, NumericalColumn):
            drawn = _numerical_distribution(column, other)
        elif isinstance(column, CategoricalColumn) and isinstance(other, CategoricalColumn):
            drawn = _categorical_distribution(column, other)
        else:
            drawn = None
        if drawn is not None:
            result[name] = drawn
    return result
