"""Concept drift: detectors over the stream of prediction errors, and the error band of the reference.

Online, the service runs its own detectors over the events as they arrive
(:mod:`modelmon.service.concept`), so the window recompute does not run this section's computation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelmon.sections.section import Gauge, Section, imported, mapping

__all__ = ["SECTION"]


def series(gauge: Gauge, model: str, concept: Mapping[str, Any]) -> None:
    for detector, info in mapping(concept.get("detectors")).items():
        gauge(
            "modelmon_concept_drift_detected",
            "1 when the detector found a change in the error stream recently (it ages out).",
            {"model": model, "detector": detector},
            mapping(info).get("detected"),
        )
    band = mapping(concept.get("band"))
    if band:
        gauge(
            "modelmon_concept_error_beyond_band",
            "1 when the windowed prediction error is above the reference's band.",
            {"model": model},
            bool(band.get("beyond")),
        )


def fragment(concept: dict[str, Any], report: Mapping[str, Any]) -> str:
    from modelmon.render.model_insight import render_concept

    return render_concept(concept)


SECTION = Section(
    "concept",
    imported("modelmon.engine.concept:concept_section"),
    parts=("performance",),
    reads_rows=True,
    series=series,
    fragment=fragment,
)
