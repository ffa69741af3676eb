"""The one table of report sections: report key -> section function, in report order.

Each entry is added here explicitly; a section module never registers itself.
"""

from __future__ import annotations

from modelmon.engine.report import Section

__all__ = ["SECTIONS"]

SECTIONS: dict[str, Section] = {}
