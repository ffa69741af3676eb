"""The one table of report sections: report key -> section function, in report order.

Each entry is added here explicitly; a section module never registers itself. Sections are
imported when first run, so a report of a few sections (``modelmon report --sections drift``)
does not load the modules (scikit-learn, scipy.stats) of the others. ``SECTION_PARTS`` names the
model-level profile parts (:data:`modelmon.engine.parts.PART_TYPES`) each section reads, so that
such a report fits only those; ``ROW_SECTIONS`` those that read samples of raw rows.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from modelmon.engine.report import ReportInputs, Section
from modelmon.errors import InputError

__all__ = ["ROW_SECTIONS", "SECTIONS", "SECTION_PARTS", "check_sections", "parts_for", "reads_rows"]


def drift_section(inputs: ReportInputs) -> dict[str, Any]:
    from modelmon.engine.drift import data_drift

    result = data_drift(inputs.reference, inputs.current, inputs.drift).to_dict()
    if inputs.schema.embeddings:
        result["embeddings"] = _embeddings(inputs)
    return result


def _embeddings(inputs: ReportInputs) -> dict[str, Any]:
    """Drift of each embedding set, on the row samples (the profiles do not keep coordinates jointly)."""
    if inputs.reference_sample is None or inputs.current_sample is None:
        return {
            name: {
                "applicable": False,
                "reason": "no row samples of the reference and current data were kept",
            }
            for name in inputs.schema.embeddings
        }
    from modelmon.engine.drift.embeddings import embeddings_drift

    return embeddings_drift(
        inputs.schema.embeddings,
        inputs.reference_sample,
        inputs.current_sample,
        inputs.drift,
        reference_rows=inputs.reference.rows,
    )


def _imported(path: str) -> Section:
    """The section function ``module:function``, imported on its first call."""
    module_name, _, function_name = path.partition(":")

    def section(inputs: ReportInputs) -> dict[str, Any]:
        function: Section = getattr(importlib.import_module(module_name), function_name)
        return function(inputs)

    section.__name__ = section.__qualname__ = function_name
    return section


SECTIONS: dict[str, Section] = {
    "drift": drift_section,
    "quality": _imported("modelmon.engine.quality:quality_section"),
    "performance": _imported("modelmon.engine.performance:performance_section"),
    "segments": _imported("modelmon.engine.segments:segments_section"),
    "fairness": _imported("modelmon.engine.fairness:fairness_section"),
    "outliers": _imported("modelmon.engine.outliers:outliers_section"),
    "explain": _imported("modelmon.engine.explain:explain_section"),
    "concept": _imported("modelmon.engine.concept:concept_section"),
    "multivariate": _imported("modelmon.engine.multivariate:multivariate_section"),
}

#: section -> the profile parts it reads (sections not listed read column summaries only)
SECTION_PARTS: dict[str, tuple[str, ...]] = {
    "performance": ("performance", "estimated", "dle"),
    "segments": ("segments", "segment_drift"),
    "fairness": ("fairness",),
    "outliers": ("outliers",),
    "explain": ("explain",),
    "concept": ("performance",),
}


#: the sections that read the bounded samples of raw rows (the others read profiles and counts)
ROW_SECTIONS = ("outliers", "explain", "concept", "multivariate")


def reads_rows(sections: Iterable[str] | None) -> bool:
    """Whether ``sections`` (``None``: all) need samples of raw rows kept.

    >>> reads_rows(["drift", "quality"]), reads_rows(["drift", "explain"]), reads_rows(None)
    (False, True, True)
    """
    return sections is None or any(name in ROW_SECTIONS for name in sections)


def check_sections(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` as a tuple, or an error naming those that are not sections.

    >>> check_sections(["drift", "quality"])
    ('drift', 'quality')
    >>> check_sections(["drift", "speed"])
    Traceback (most recent call last):
    ...
    modelmon.errors.InputError: unknown report section(s) ['speed']; the sections are drift, quality, \
performance, segments, fairness, outliers, explain, concept, multivariate
    """
    names = tuple(names)
    unknown = [name for name in names if name not in SECTIONS]
    if unknown:
        raise InputError(f"unknown report section(s) {unknown}; the sections are {', '.join(SECTIONS)}")
    return names


def parts_for(sections: Iterable[str] | None) -> tuple[str, ...] | None:
    """The profile parts ``sections`` read (``None``, every section, reads every part).

    >>> parts_for(["drift", "concept", "performance"])
    ('performance', 'estimated', 'dle')
    """
    if sections is None:
        return None
    parts = [part for name in check_sections(sections) for part in SECTION_PARTS.get(name, ())]
    return tuple(dict.fromkeys(parts))
