"""Multivariate drift: a classifier told reference rows from current ones (its ROC AUC)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelmon.sections.section import Section, imported

__all__ = ["SECTION"]


def fragment(multivariate: dict[str, Any], report: Mapping[str, Any]) -> str:
    from modelmon.render.model_insight import render_multivariate

    return render_multivariate(multivariate)


SECTION = Section(
    "multivariate",
    imported("modelmon.engine.multivariate:multivariate_section"),
    reads_rows=True,
    fragment=fragment,
)
