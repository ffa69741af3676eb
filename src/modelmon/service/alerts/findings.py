"""What changed, ranked: the summary of a diagnostic report that a person reads first.

:func:`findings` reads a report's JSON (any report: batch, window or an alert's) and ranks

- the drifted columns, strongest first: a distance by how far it is past its threshold
  (``score / threshold``), a test by how far its p-value is below alpha (``log p / log alpha``);
- the segments whose metric degraded most, then those whose data drifted most;
- the model's performance against the reference, realized when there are labels, else estimated;
- the concept detectors' change points.

``confirmed`` says whether the report itself shows a change (a drifted column, a degraded metric or
segment, or a concept change), which an alert's opt-in action waits for.

>>> report = {"drift": {"dataset_drift": True, "columns": {
...     "fare": {"method": "wasserstein", "score": 0.15, "threshold": 0.1, "detected": True},
...     "distance": {"method": "wasserstein", "score": 0.9, "threshold": 0.1, "detected": True},
...     "hour": {"method": "ks", "score": 0.02, "threshold": 0.05, "detected": False, "p_value": 0.4}}}}
>>> summary = findings(report)
>>> [item["column"] for item in summary["drifted_columns"]], summary["confirmed"]
(['distance', 'fare'], True)
>>> summary["lines"][0]
'drift: distance (wasserstein 0.9 >= 0.1), fare (wasserstein 0.15 >= 0.1)'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["findings", "severity"]

#: how many items of each kind the summary keeps
TOP = 5
#: the metric that leads the performance line, by task
_LEADING = ("mae", "rmse", "f1", "accuracy", "roc_auc", "r2")
#: metrics where a higher value is worse
_LOWER_IS_BETTER = frozenset({"mae", "rmse", "mape", "mean_error", "log_loss"})


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def severity(column: Mapping[str, Any]) -> float:
    """How far a column's drift is past its threshold: 1 at the threshold, larger is stronger."""
    p_value, score, threshold = (_number(column.get(key)) for key in ("p_value", "score", "threshold"))
    if p_value is not None and threshold is not None and 0 < threshold < 1:
        return math.log(max(p_value, 1e-300)) / math.log(threshold)
    if score is not None and threshold:
        return score / threshold
    return 0.0


def _short(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _drift(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    columns = (report.get("drift") or {}).get("columns") or {}
    drifted = [
        {
            "column": name,
            "method": info.get("method"),
            "score": _number(info.get("score")),
            "threshold": _number(info.get("threshold")),
            "p_value": _number(info.get("p_value")),
            "severity": round(severity(info), 4),
        }
        for name, info in columns.items()
        if isinstance(info, Mapping) and info.get("detected")
    ]
    drifted.sort(key=lambda item: (-item["severity"], item["column"]))
    return drifted


def _segments(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    segments = report.get("segments") or {}
    moved: list[dict[str, Any]] = []
    for item in segments.get("worst") or []:
        if item.get("degraded"):
            moved.append(
                {
                    "segment": f"{item.get('column')}={item.get('value')}",
                    "kind": "performance",
                    "metric": item.get("metric"),
                    "current": _number(item.get("current")),
                    "reference": _number(item.get("reference")),
                    "change": _number(item.get("degradation")),
                }
            )
    for item in segments.get("drift_ranking") or []:
        if item.get("dataset_drift") or item.get("drifted_columns"):
            moved.append(
                {
                    "segment": item.get("segment"),
                    "kind": "drift",
                    "drifted_share": _number(item.get("drifted_share")),
                    "drifted_columns": list(item.get("drifted_columns") or []),
                    "rows": item.get("rows"),
                }
            )
    return moved[: 2 * TOP]


def _performance(report: Mapping[str, Any]) -> dict[str, Any] | None:
    section = report.get("performance") or {}
    if section.get("applicable"):
        kind, source = "realized", section
    elif (section.get("estimated") or {}).get("applicable"):
        kind, source = "estimated", section["estimated"]
    else:
        return None
    current, reference = source.get("current") or {}, source.get("reference") or {}
    metric = next((name for name in _LEADING if _number(current.get(name)) is not None), None)
    if metric is None:
        return None
    now, before = _number(current.get(metric)), _number(reference.get(metric))
    change = _number((source.get("relative_change") or {}).get(metric))
    worse = None
    if now is not None and before is not None:
        worse = now > before if metric in _LOWER_IS_BETTER else now < before
    return {"kind": kind, "metric": metric, "current": now, "reference": before, "relative_change": change,
            "worse": worse}  # fmt: skip


def _concept(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    detectors = (report.get("concept") or {}).get("detectors") or {}
    return [
        {"detector": name, "detections": list(info.get("detections") or [])[-TOP:]}
        for name, info in detectors.items()
        if isinstance(info, Mapping) and (info.get("detected") or info.get("detections"))
    ]


def _test(item: Mapping[str, Any]) -> str:
    if item["p_value"] is None:
        return f"{item['method']} {_short(item['score'])} >= {_short(item['threshold'])}"
    return f"{item['method']} p={_short(item['p_value'])} < {_short(item['threshold'])}"


def _lines(summary: Mapping[str, Any]) -> list[str]:
    lines = []
    drifted = summary["drifted_columns"]
    if drifted:
        shown = ", ".join(f"{item['column']} ({_test(item)})" for item in drifted[:TOP])
        more = f" and {len(drifted) - TOP} more" if len(drifted) > TOP else ""
        lines.append(f"drift: {shown}{more}")
    performance = summary["performance"]
    if performance is not None:
        change = performance["relative_change"]
        moved = "" if change is None else f" ({change:+.0%})"
        lines.append(
            f"{performance['kind']} {performance['metric']}: {_short(performance['current'])} against "
            f"{_short(performance['reference'])} on the reference{moved}"
        )
    for item in summary["segments"][:3]:
        if item["kind"] == "performance":
            lines.append(
                f"segment {item['segment']}: {item['metric']} {_short(item['current'])} against "
                f"{_short(item['reference'])}"
            )
        else:
            lines.append(f"segment {item['segment']}: drifted columns {', '.join(item['drifted_columns'])}")
    for item in summary["concept"]:
        lines.append(f"concept: {item['detector']} found a change point")
    return lines or ["no drift, degradation or concept change in this period"]


def findings(report: Mapping[str, Any]) -> dict[str, Any]:
    """The ranked summary of ``report`` (see the module's docstring)."""
    summary: dict[str, Any] = {
        "dataset_drift": (report.get("drift") or {}).get("dataset_drift"),
        "drifted_columns": _drift(report),
        "segments": _segments(report),
        "performance": _performance(report),
        "concept": _concept(report),
    }
    performance = summary["performance"]
    summary["confirmed"] = bool(
        summary["drifted_columns"]
        or summary["concept"]
        or any(item["kind"] == "performance" for item in summary["segments"])
        or (
            performance is not None
            and performance["worse"]
            and abs(performance["relative_change"] or 0) > 0.1
        )
    )
    summary["lines"] = _lines(summary)
    return summary
