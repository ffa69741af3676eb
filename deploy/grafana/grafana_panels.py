"""Building blocks of modelmon's Grafana dashboards: queries, panels and the dashboard frame.

Used by ``generate.py``; see its docstring for the rules every query follows.

>>> panel = timeseries("Outliers", [query(f"modelmon_outlier_share{{{MODEL}}}")], threshold=0.05)
>>> panel["targets"][0]["expr"], panel["fieldConfig"]["defaults"]["thresholds"]["steps"][1]
('modelmon_outlier_share{model=~"$model"}', {'color': 'red', 'value': 0.05})
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
THRESHOLDS = yaml.safe_load((HERE.parent / "prometheus" / "thresholds.yml").read_text())["defaults"]
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
MODEL = 'model=~"$model"'
MODEL_OR_NONE = 'model=~"$model|"'
HTTP = "job, model, endpoint"
Panel = dict[str, Any]


def limit(key: str) -> float:
    """The default alert threshold called ``key`` in thresholds.yml."""
    return float(THRESHOLDS[key]["threshold"])


def query(expr: str, legend: str = "", instant: bool = False) -> dict[str, Any]:
    """One Prometheus query of a panel."""
    target: dict[str, Any] = {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend or "__auto"}
    if instant:
        target.update(instant=True, range=False, format="table")
    return target


def _panel(
    kind: str,
    title: str,
    targets: list[dict[str, Any]],
    description: str,
    unit: str,
    steps: list[dict[str, Any]],
    **options: Any,
) -> Panel:
    for ref, target in zip("ABCDEFGH", targets, strict=False):
        target["refId"] = ref
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": targets,
        "fieldConfig": {
            "defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}, **options},
            "overrides": [],
        },
    }


def _steps(threshold: float | None, below_is_bad: bool = False) -> list[dict[str, Any]]:
    if threshold is None:
        return [{"color": "green", "value": None}]
    if below_is_bad:
        return [{"color": "red", "value": None}, {"color": "green", "value": threshold}]
    return [{"color": "green", "value": None}, {"color": "red", "value": threshold}]


def timeseries(
    title: str,
    targets: list[dict[str, Any]],
    description: str = "",
    unit: str = "short",
    threshold: float | None = None,
    below_is_bad: bool = False,
) -> Panel:
    """A time series panel; ``threshold`` draws the alert threshold as a line."""
    style = {"mode": "line" if threshold is not None else "off"}
    return _panel(
        "timeseries",
        title,
        targets,
        description,
        unit,
        _steps(threshold, below_is_bad),
        custom={"thresholdsStyle": style, "lineWidth": 1, "fillOpacity": 10},
    )


def state(
    title: str, targets: list[dict[str, Any]], description: str = "", ok: str = "ok", bad: str = "drift"
) -> Panel:
    """A state timeline of a 0/1 series (0 = ok, 1 = bad)."""
    mappings = [
        {
            "type": "value",
            "options": {"0": {"text": ok, "color": "green"}, "1": {"text": bad, "color": "red"}},
        }
    ]
    return _panel(
        "state-timeline",
        title,
        targets,
        description,
        "short",
        _steps(1),
        mappings=mappings,
        color={"mode": "thresholds"},
    )


def stat(
    title: str,
    targets: list[dict[str, Any]],
    description: str = "",
    up_down: bool = False,
    unit: str = "short",
) -> Panel:
    """A stat panel; ``up_down`` shows 1 as "up" (green) and 0 as "down" (red)."""
    extra: dict[str, Any] = {}
    if up_down:
        extra["mappings"] = [
            {
                "type": "value",
                "options": {"0": {"text": "down", "color": "red"}, "1": {"text": "up", "color": "green"}},
            }
        ]
    return _panel("stat", title, targets, description, unit, _steps(1, below_is_bad=up_down), **extra)


def table(
    title: str, targets: list[dict[str, Any]], description: str = "", columns: tuple[str, ...] = ()
) -> Panel:
    """A table of instant queries merged on their labels; ``columns`` names the value of each query."""
    panel = _panel("table", title, targets, description, "short", _steps(None))
    names = {f"Value #{target['refId']}": name for target, name in zip(targets, columns, strict=False)}
    panel["transformations"] = [
        {"id": "merge", "options": {}},
        {
            "id": "organize",
            "options": {
                "excludeByName": {"Time": True, "__name__": True, "job": True, "instance": True},
                "renameByName": names,
            },
        },
    ]
    return panel


def bars(title: str, targets: list[dict[str, Any]], description: str = "", unit: str = "short") -> Panel:
    """A horizontal bar gauge of the latest values."""
    panel = _panel("bargauge", title, targets, description, unit, _steps(None))
    panel["options"] = {
        "orientation": "horizontal",
        "displayMode": "basic",
        "reduceOptions": {"calcs": ["lastNotNull"], "values": False},
    }
    return panel


def rate(series: str, matcher: str, by: str, window: str = "5m") -> str:
    """Per-second rate summed by ``by``, 0 instead of no data while the counter has no series yet."""
    return f"sum by ({by}) (rate({series}{{{matcher}}}[{window}]))"


def or_zero(expr: str, by: str = "model") -> str:
    """``expr``, or 0 per model while it has no series (labelled counters appear on their first event)."""
    return f"{expr} or on ({by}) sum by ({by}) (modelmon_window_rows{{{MODEL}}}) * 0"


def dashboard(uid: str, title: str, description: str, panels: list[Panel]) -> dict[str, Any]:
    """A dashboard with the ``model`` variable; panels are laid out two per row."""
    for index, panel in enumerate(panels):
        panel["id"] = index + 1
        panel["gridPos"] = {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)}
    variable_query = "label_values(modelmon_events_total, model)"
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["modelmon"],
        "editable": False,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "browser",
        "links": [{"type": "dashboards", "tags": ["modelmon"], "asDropdown": True, "title": "modelmon"}],
        "templating": {
            "list": [
                {
                    "name": "model",
                    "label": "Model",
                    "type": "query",
                    "datasource": DATASOURCE,
                    "query": {"query": variable_query, "refId": "model"},
                    "definition": variable_query,
                    "refresh": 2,
                    "multi": True,
                    "includeAll": True,
                    "allValue": ".*",
                    "sort": 1,
                    "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
                }
            ]
        },
        "panels": panels,
    }
