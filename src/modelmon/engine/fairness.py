"""Fairness per sensitive attribute, exact from per-group counts.

For a classifier, each group's selection rate (share of rows predicted as the positive class, over
every row with a prediction, labelled or not), true positive rate and false positive rate (over
labelled rows) come from its confusion counts, and the aggregates follow fairlearn's definitions:
demographic parity difference (max - min selection rate) and ratio (min / max), equalized odds
difference (the larger of the TPR and FPR spreads). For a regressor, each group's MAE and mean
prediction, and the largest gaps. Groups with fewer rows (with a prediction) than ``min_group_rows``
are listed as too small and left out of the aggregates; a group without labelled positives (or
negatives) has no TPR (or FPR) and is left out of the equalized odds difference.

>>> import pandas as pd
>>> from modelmon.engine.profile import ProfileSpec
>>> from modelmon.schema import Schema
>>> schema = Schema(task="classification", numerical=["x"], prediction="p", target="y", sensitive=["g"])
>>> frame = pd.DataFrame({"x": [0.0] * 4, "p": [1, 1, 0, 1], "y": [1, 0, 0, 1], "g": ["a", "a", "b", "b"]})
>>> spec = ProfileSpec.fit(frame, schema)
>>> groups = FairnessPart.build(frame, spec).groups["g"]
>>> attribute_fairness(groups, min_rows=1)["demographic_parity_difference"]
0.5
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelmon.engine.performance import absent_part
from modelmon.engine.performance_parts import ClassificationCounts, Counts, RegressionCounts
from modelmon.engine.report import ReportInputs, not_applicable
from modelmon.engine.segments import DEFAULT_MIN_ROWS, GroupedPart

__all__ = [
    "DEFAULT_MAE_GAP",
    "DEFAULT_THRESHOLD",
    "FairnessPart",
    "attribute_fairness",
    "fairness_section",
]

#: a classifier is unfair on an attribute when its demographic parity or equalized odds
#: difference exceeds this (fairlearn's usual rule of thumb)
DEFAULT_THRESHOLD = 0.1
#: a regressor is unfair on an attribute when the worst group's MAE exceeds the best's by this share
DEFAULT_MAE_GAP = 0.25


class FairnessPart(GroupedPart):
    """The ``fairness`` part: the model's counts per group of each sensitive attribute."""

    name = "fairness"
    role = "sensitive"


def _classification_group(counts: ClassificationCounts) -> dict[str, Any]:
    tp, fp, fn, tn = counts.binary_counts()
    return {
        "rows": counts.rows,
        "labelled_rows": counts.labelled,
        "selection_rate": counts.selection_rate(),
        "tpr": tp / (tp + fn) if tp + fn else None,
        "fpr": fp / (fp + tn) if fp + tn else None,
        "accuracy": counts.metrics()["accuracy"],
    }


def _regression_group(counts: RegressionCounts) -> dict[str, Any]:
    return {
        "rows": counts.rows,
        "labelled_rows": counts.labelled,
        "mae": counts.metrics()["mae"],
        "mean_prediction": counts.sum_prediction / counts.predictions if counts.predictions else None,
    }


def _values(groups: Mapping[str, Mapping[str, Any]], key: str) -> dict[str, float]:
    """``key`` of every group that has it."""
    return {name: group[key] for name, group in groups.items() if group.get(key) is not None}


def _spread(values: Mapping[str, float]) -> float | None:
    return max(values.values()) - min(values.values()) if values else None


def attribute_fairness(
    groups: Mapping[str, Counts],
    min_rows: int = DEFAULT_MIN_ROWS,
    threshold: float = DEFAULT_THRESHOLD,
    mae_gap: float = DEFAULT_MAE_GAP,
) -> dict[str, Any]:
    """Per-group rates and the fairness aggregates of one sensitive attribute."""
    described: dict[str, dict[str, Any]] = {}
    too_small: list[str] = []
    for name, counts in groups.items():
        if isinstance(counts, ClassificationCounts):
            described[name] = _classification_group(counts)
        else:
            described[name] = _regression_group(counts)
        if _predicted_rows(counts) < min_rows:
            described[name]["too_small"] = True
            too_small.append(name)
    measured = {name: group for name, group in described.items() if name not in too_small}
    result: dict[str, Any] = {"groups": described, "too_small": too_small, "measured_groups": list(measured)}
    if any(_regression(counts) for counts in groups.values()):
        return result | _regression_aggregates(measured, mae_gap)
    return result | _classification_aggregates(measured, threshold)


def _regression_aggregates(measured: Mapping[str, Mapping[str, Any]], mae_gap: float) -> dict[str, Any]:
    errors = _values(measured, "mae")
    best = min(errors, key=errors.__getitem__) if errors else None
    worst = max(errors, key=errors.__getitem__) if errors else None
    ratio = errors[worst] / errors[best] if best is not None and worst is not None and errors[best] else None
    return {
        "max_error_gap": _spread(errors),
        "mae_ratio": ratio,
        "mean_prediction_gap": _spread(_values(measured, "mean_prediction")),
        "worst_group": worst,
        "above_threshold": bool(ratio is not None and ratio - 1 > mae_gap),
    }


def _classification_aggregates(measured: Mapping[str, Mapping[str, Any]], threshold: float) -> dict[str, Any]:
    rates = _values(measured, "selection_rate")
    lowest = min(rates, key=rates.__getitem__) if rates else None
    highest = max(rates, key=rates.__getitem__) if rates else None
    parity = _spread(rates)
    ratio = (
        rates[lowest] / rates[highest]
        if lowest is not None and highest is not None and rates[highest]
        else None
    )
    gaps = [_spread(_values(measured, key)) for key in ("tpr", "fpr")]
    odds = max((gap for gap in gaps if gap is not None), default=None)
    return {
        "demographic_parity_difference": parity,
        "demographic_parity_ratio": ratio,
        "equalized_odds_difference": odds,
        "lowest_selection_rate_group": lowest,
        "highest_selection_rate_group": highest,
        "above_threshold": bool((parity or 0.0) > threshold or (odds or 0.0) > threshold),
    }


def _regression(counts: Counts) -> bool:
    return isinstance(counts, RegressionCounts)


def _worsened(result: Mapping[str, Any], threshold: float, mae_gap: float) -> bool:
    """Above the threshold now, and by a clear margin more unfair than on the reference.

    A disparity the reference already had (groups that truly differ in outcome) is reported by
    ``above_threshold`` but does not raise a flag; a monitoring flag is about what changed.
    """
    if not result["above_threshold"]:
        return False
    before = result["reference"]
    if "mae_ratio" in result:
        return before.get("mae_ratio") is None or result["mae_ratio"] - before["mae_ratio"] > mae_gap / 2
    for key in ("demographic_parity_difference", "equalized_odds_difference"):
        now, then = result[key], before.get(key)
        if now is not None and now > threshold and (then is None or now - then > threshold / 2):
            return True
    return False


def _predicted_rows(counts: Counts) -> int:
    """Rows of a group that have a prediction: the group's size for fairness."""
    if isinstance(counts, RegressionCounts):
        return counts.predictions
    return int(counts.predicted.sum())


def fairness_section(inputs: ReportInputs) -> dict[str, Any]:
    """The ``fairness`` report section."""
    schema = inputs.schema
    if not schema.sensitive:
        return not_applicable("the schema names no sensitive attributes")
    if schema.prediction is None:
        return not_applicable("fairness needs a prediction column in the schema")
    current, reference = inputs.current.parts.get("fairness"), inputs.reference.parts.get("fairness")
    absent = absent_part(inputs, "fairness", "per-group counts")
    if absent:
        return not_applicable(absent)
    assert current is not None and reference is not None
    min_rows = int(inputs.options.get("min_group_rows", DEFAULT_MIN_ROWS))
    threshold = float(inputs.options.get("fairness_threshold", DEFAULT_THRESHOLD))
    mae_gap = float(inputs.options.get("fairness_mae_gap", DEFAULT_MAE_GAP))
    attributes: dict[str, Any] = {}
    for attribute, groups in current.groups.items():
        result = attribute_fairness(groups, min_rows, threshold, mae_gap)
        result["reference"] = attribute_fairness(
            reference.groups.get(attribute, {}), min_rows, threshold, mae_gap
        )
        result["flagged"] = _worsened(result, threshold, mae_gap)
        attributes[attribute] = result
    return {
        "applicable": True,
        "task": schema.task,
        "positive_class": inputs.reference.spec.state["fairness"].performance.positive
        if schema.task == "classification"
        else None,
        "min_group_rows": min_rows,
        "threshold": threshold,
        "attributes": attributes,
        "flagged": [name for name, result in attributes.items() if result.get("flagged")],
    }
