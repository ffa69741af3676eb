"""The ``performance`` report section: realized metrics of the labelled rows against the reference's
(:mod:`modelmon.engine.performance`), with the label-free estimate of :mod:`modelmon.engine.estimated`
under ``"estimated"``.

It sits above both modules, so neither imports the other back.

>>> import pandas as pd
>>> from modelmon.engine.profile import ProfileSpec
>>> from modelmon.engine.report import ReportInputs
>>> from modelmon.schema import Schema
>>> schema = Schema(numerical=["x"], prediction="p", target="y")
>>> reference = pd.DataFrame({"x": [1.0, 2.0], "p": [1.0, 2.0], "y": [1.5, 2.0]})
>>> spec = ProfileSpec.fit(reference, schema)
>>> current = spec.profile(pd.DataFrame({"x": [1.0, 2.0], "p": [1.0, 4.0], "y": [1.0, 2.0]}))
>>> section = performance_section(ReportInputs(spec.profile(reference), current))
>>> section["current"]["mae"], section["labelled_rows"]
(1.0, 2)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelmon.engine.estimated import estimated_performance
from modelmon.engine.performance import absent_part, compare_metrics
from modelmon.engine.performance_parts import (
    N_SCORE_BINS,
    OTHER,
    ClassificationCounts,
    Counts,
    RegressionCounts,
)
from modelmon.engine.report import ReportInputs, not_applicable

__all__ = ["performance_section"]


def _notes(counts: Counts) -> list[str]:
    notes = []
    if isinstance(counts, RegressionCounts) and counts.zero_targets:
        notes.append(f"MAPE skips {counts.zero_targets} row(s) whose target is 0")
    if isinstance(counts, ClassificationCounts) and counts.score_positive is not None:
        notes.append(
            f"ROC AUC is computed from {N_SCORE_BINS} score bins: pairs in one bin count as ties, "
            "so it is within roc_auc_error_bound of the exact value"
        )
    if counts.invalid:
        notes.append(f"{counts.invalid} labelled row(s) have no usable prediction or target")
    return notes


def _confusion(counts: ClassificationCounts) -> dict[str, Any]:
    labels = [*counts.labels, OTHER]
    keep = (counts.confusion.sum(axis=0) + counts.confusion.sum(axis=1)) > 0
    keep[: len(counts.labels)] = True
    return {
        "labels": [label for label, kept in zip(labels, keep, strict=True) if kept],
        "counts": counts.confusion[np.ix_(keep, keep)].tolist(),
    }


def performance_section(inputs: ReportInputs) -> dict[str, Any]:
    """The ``performance`` report section."""
    schema = inputs.schema
    estimated = estimated_performance(inputs)
    if schema.prediction is None:
        return not_applicable("the schema names no prediction column", estimated=estimated)
    if schema.target is None:
        return not_applicable("the schema names no target column", estimated=estimated)
    absent = absent_part(inputs, "performance", "performance counts")
    if absent:
        return not_applicable(absent, estimated=estimated)
    reference, current = inputs.reference.parts["performance"], inputs.current.parts["performance"]
    counts: Counts = current.counts
    if not counts.labelled:
        reason = (
            "no target column in the current data yet"
            if schema.target in inputs.current.absent_columns
            else "no labelled rows in the current data yet"
        )
        return not_applicable(reason, unlabelled_rows=counts.unlabelled, estimated=estimated)
    now, before = counts.metrics(), reference.counts.metrics()
    delta, relative = compare_metrics(now, before)
    section: dict[str, Any] = {
        "applicable": True,
        "task": schema.task,
        "current": now,
        "reference": before,
        "delta": delta,
        "relative_change": relative,
        "labelled_rows": counts.labelled,
        "unlabelled_rows": counts.unlabelled,
        "invalid_rows": counts.invalid,
        "reference_labelled_rows": reference.counts.labelled,
        "notes": _notes(counts),
        "estimated": estimated,
    }
    if isinstance(counts, ClassificationCounts):
        seen = reference.counts.confusion.sum(axis=0) + reference.counts.confusion.sum(axis=1)
        if reference.counts.labelled and not seen[counts.slot]:
            section["notes"].append(
                f"the positive class {counts.positive!r} never occurs in the reference's labels "
                f"{[label for label, n in zip(counts.labels, seen, strict=False) if n]}: set positive_class"
            )
        section["positive_class"] = counts.positive
        section["roc_auc_error_bound"] = counts.roc_auc_error_bound()
        section["confusion"] = _confusion(counts)
    return section
