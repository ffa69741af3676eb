"""Data quality and integrity of the current data, read from the two profiles.

Per column: missing share and type-error share (of all rows), out-of-range share against the
reference's [min, max] and new-category share (of the valid values), the most frequent value's
share (constant and almost-constant columns), and summary statistics of reference vs current.
Schema mismatch (columns missing or unexpected) is reported, not raised. Duplicate rows need raw
rows, so they are counted by the report builder and passed in.

All counts are exact: the tail cells of a numerical profile hold exactly the values below the
reference's minimum and above its maximum. Quantiles are interpolated inside a profile cell, so
they are exact at the reference's values and approximate between them.

>>> import pandas as pd
>>> from modelmon.engine.profile import ProfileSpec
>>> from modelmon.schema import Schema
>>> spec = ProfileSpec.fit(pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]}),
...                        Schema(numerical=["x"], categorical=["c"]))
>>> current = spec.profile(pd.DataFrame({"x": [0.0, 2.0, None, "oops"], "c": ["a", "z", "z", "a"]}))
>>> result = data_quality(spec.profile(pd.DataFrame({"x": [1.0], "c": ["a"]})), current)
>>> x, c = result["columns"]["x"], result["columns"]["c"]
>>> x["missing_share"], x["type_error_share"], x["out_of_range_share"]
(0.25, 0.25, 0.5)
>>> c["new_category_share"], c["new_categories"]
(0.5, {'z': 2})
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelmon.engine.category_counts import CategoryTail
from modelmon.engine.columns import CategoricalColumn, NumericalColumn, value_label
from modelmon.engine.profile import Profile
from modelmon.engine.report import ReportInputs

__all__ = ["ALMOST_CONSTANT_SHARE", "DEFAULT_LIMITS", "data_quality", "quality_section", "quantile"]

#: a column whose most frequent value has at least this share of the values is almost constant
ALMOST_CONSTANT_SHARE = 0.95
#: shares above which a finding is listed in ``issues``
DEFAULT_LIMITS = {
    "missing_share": 0.05,
    "type_error_share": 0.0,
    "out_of_range_share": 0.05,
    "new_category_share": 0.05,
    "duplicate_share": 0.05,
}
_QUANTILES = (0.25, 0.5, 0.75)


def _share(part: float, whole: float) -> float | None:
    return float(part) / whole if whole else None


def quantile(column: NumericalColumn, q: float) -> float | None:
    """The ``q`` quantile from the cells: exact on an edge, interpolated by rank inside a cell."""
    if not column.count:
        return None
    rank = q * (column.count - 1)
    cumulative = np.cumsum(column.cell_counts)
    cell = int(np.searchsorted(cumulative, rank, side="right"))
    if cell % 2 == 1:
        return float(column.edges[cell // 2])
    edges = column.edges
    low = column.min if cell == 0 else max(edges[cell // 2 - 1], column.min)
    high = column.max if cell == 2 * len(edges) else min(edges[cell // 2], column.max)
    before = cumulative[cell - 1] if cell else 0
    inside = column.cell_counts[cell]
    position = (rank - before + 0.5) / inside if inside else 0.5
    return float(low + (high - low) * min(max(position, 0.0), 1.0))


def _top_share(column: NumericalColumn | CategoricalColumn) -> tuple[float | None, str | None]:
    """Share of the most frequent value among the valid ones (a lower bound between edges)."""
    if isinstance(column, NumericalColumn):
        if not column.count:
            return None, None
        if column.min == column.max:
            return 1.0, value_label(column.min)
        at_edges = column.cell_counts[1::2]
        top = int(np.argmax(at_edges))
        if not at_edges[top]:
            # no value repeats a reference value; any value is at least 1 of count
            return 1 / column.count, None
        return float(at_edges[top]) / column.count, value_label(column.edges[top])
    if not column.count:
        return None, None
    known = column.counts[: len(column.values)]
    best_count, best_value = (
        (int(known.max()), column.values[int(known.argmax())]) if len(known) else (0, None)
    )
    for name, count in column.unseen.items():
        if count > best_count:
            best_count, best_value = count, name
    return best_count / column.count, best_value


def _stats(column: NumericalColumn) -> dict[str, float | None]:
    stats: dict[str, float | None] = {
        "mean": column.mean if column.count else None,
        "std": column.std if column.count else None,
        "min": column.min if column.count else None,
        "max": column.max if column.count else None,
    }
    for q in _QUANTILES:
        stats[f"p{round(q * 100)}"] = quantile(column, q)
    return stats


def _category_approximation(
    column: CategoricalColumn, tail: CategoryTail | None, top_share: float | None
) -> dict[str, Any] | None:
    """What the column's figures approximate, with the bound; None when all are exact.

    Counts of missing and new values stay exact with a reference tail (tail values are told
    apart by hash); what a tail approximates is which value is the most frequent.
    """
    found: dict[str, Any] = {}
    if tail is not None and column.tail_count:
        start = len(column.values)
        biggest = int(column.counts[start : start + tail.buckets].max())
        found["reference_tail"] = {
            "exact_categories": len(column.values),
            "tail_categories": tail.categories,
            "tail_buckets": tail.buckets,
            "tail_share": column.tail_count / column.count,
            "most_frequent_share_upper_bound": max(top_share or 0.0, biggest / column.count),
            "bound": "tail categories are counted per hash bucket; a bucket's count bounds each of its own",
        }
    if column.unseen_error:
        found["new_categories"] = {
            "named": len(column.unseen),
            "max_undercount": column.unseen_error,
            "bound": f"each listed new category's count is at most {column.unseen_error} below the truth",
        }
    return found or None


def _column(
    name: str, reference: Any, current: Any, role: str, tail: CategoryTail | None = None
) -> dict[str, Any]:
    rows = current.rows
    result: dict[str, Any] = {
        "kind": current.kind,
        "role": role,
        "rows": rows,
        "missing": current.missing,
        "missing_share": _share(current.missing, rows),
        "reference_missing_share": _share(reference.missing, reference.rows),
        "type_errors": current.type_errors,
        "type_error_share": _share(current.type_errors, rows),
        "reference_type_error_share": _share(reference.type_errors, reference.rows),
    }
    top_share, top_value = _top_share(current)
    reference_top, _ = _top_share(reference)
    result.update(
        most_frequent_value=top_value,
        most_frequent_share=top_share,
        constant=top_share == 1.0,
        almost_constant=top_share is not None and ALMOST_CONSTANT_SHARE <= top_share < 1.0,
        reference_most_frequent_share=reference_top,
    )
    if isinstance(current, NumericalColumn):
        outside = int(current.cell_counts[0] + current.cell_counts[-1]) if reference.count else 0
        result.update(
            out_of_range=outside,
            out_of_range_share=_share(outside, current.count) if reference.count else None,
            reference_range=[reference.min, reference.max] if reference.count else None,
            reference=_stats(reference),
            current=_stats(current),
        )
    else:
        new = current.new_count
        result.update(
            new_categories_count=new,
            new_category_share=_share(new, current.count),
            reference_new_category_share=_share(reference.new_count, reference.count),
            new_categories=dict(sorted(current.unseen.items(), key=lambda pair: -pair[1])[:10]),
            categories_truncated=tail is not None,
            reference_categories=len(current.values) + (tail.categories if tail is not None else 0),
            approximation=_category_approximation(current, tail, top_share),
        )
    return result


def _role(schema: Any, name: str) -> str:
    if name == schema.prediction:
        return "prediction"
    if name == schema.target:
        return "target"
    if name in schema.probabilities:
        return "probabilities"
    return "feature"


def _issue(column: str | None, kind: str, value: Any, threshold: Any, message: str) -> dict[str, Any]:
    return {"column": column, "kind": kind, "value": value, "threshold": threshold, "message": message}


def _issues(columns: dict[str, dict[str, Any]], limits: dict[str, float]) -> list[dict[str, Any]]:
    """Findings that are new in the current data: a share above its limit *plus* the reference's own
    share, and constant columns that were not constant in the reference (so a clean batch flags nothing)."""
    issues = []
    wording = {
        "missing_share": "missing values",
        "type_error_share": "values of the wrong type",
        "out_of_range_share": "values outside the reference range",
        "new_category_share": "categories never seen in the reference",
    }
    for name, column in columns.items():
        for key, what in wording.items():
            value = column.get(key)
            threshold = limits[key] + (column.get(f"reference_{key}") or 0.0)
            if value is not None and value > threshold:
                issues.append(_issue(name, key, value, threshold, f"{name}: {value:.1%} {what}"))
        was_constant = (column["reference_most_frequent_share"] or 0.0) >= ALMOST_CONSTANT_SHARE
        if (column["constant"] or column["almost_constant"]) and not was_constant:
            kind = "constant" if column["constant"] else "almost_constant"
            share = column["most_frequent_share"]
            message = f"{name}: {share:.1%} of values are {column['most_frequent_value']}"
            issues.append(_issue(name, kind, share, ALMOST_CONSTANT_SHARE, message))
    return issues


def data_quality(
    reference: Profile,
    current: Profile,
    duplicates: dict[str, Any] | None = None,
    limits: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Quality of ``current`` against ``reference``: per column, schema check, duplicates, issues.

    ``duplicates`` is ``{"rows": n, "duplicated": d}`` for the current data (rows identical over
    the monitored columns to an earlier row), when the caller could count them.
    """
    limits = {**DEFAULT_LIMITS, **(limits or {})}
    schema = reference.spec.schema
    # a column absent from the current data has an empty profile: its figures would say nothing
    columns = {
        name: _column(
            name,
            reference.columns[name],
            current.columns[name],
            _role(schema, name),
            reference.spec.tails.get(name),
        )
        for name in current.columns
        if name not in current.absent_columns
    }
    issues = _issues(columns, limits)
    missing = list(current.absent_columns)
    schema_check = {"missing_columns": missing, "unexpected_columns": list(current.unexpected_columns)}
    for name in missing:
        issues.append(_issue(name, "missing_column", None, None, f"{name}: column missing from the data"))
    for name in current.unexpected_columns:
        if name not in reference.unexpected_columns:
            message = f"{name}: column in neither the schema nor the reference"
            issues.append(_issue(name, "unexpected_column", None, None, message))
    if duplicates is None:
        duplicate_result: dict[str, Any] = {
            "applicable": False,
            "reason": "duplicates are counted on batches",
        }
    else:
        share = _share(duplicates["duplicated"], duplicates["rows"])
        duplicate_result = {**duplicates, "share": share}
        if share is not None and share > limits["duplicate_share"]:
            message = f"{share:.1%} of rows duplicate an earlier row"
            issues.append(_issue(None, "duplicate_share", share, limits["duplicate_share"], message))
    return {
        "columns": columns,
        "schema": schema_check,
        "duplicates": duplicate_result,
        "issues": issues,
        "limits": limits,
    }


def quality_section(inputs: ReportInputs) -> dict[str, Any]:
    """The report's "quality" section; duplicates come from ``inputs.options["duplicates"]``."""
    return data_quality(
        inputs.reference,
        inputs.current,
        duplicates=inputs.options.get("duplicates"),
        limits=inputs.options.get("quality_limits"),
    )
