"""Checks that gate a pipeline: conditions over a report's values, each passed or failed.

A condition reads one value of the report JSON by its *path* and compares it with a literal::

    drift.dataset_drift == false
    quality.columns.fare_amount.missing_share < 0.05
    performance.current.mae <= 4
    segments.drift.PULocationID.other.drifted_share < 0.5
    drift_ranking.0.segment != "zone=b"          (a number picks a list item)
    drift.columns.trip_distance.method in [wasserstein, ks]
    performance.current.r2 between [0.8, 1]       (both ends included)

The grammar: ``PATH OPERATOR VALUE``. ``PATH`` is keys joined by dots (a key holding a dot or a
space goes in double quotes: ``quality.columns."fare.amount".missing_share``); ``OPERATOR`` is one of
``== != < <= > >= in not_in between``; ``VALUE`` is a YAML literal (``true``, ``null``, ``0.05``,
``card``, ``[a, b]``). A path the report does not have is an error (:class:`CheckError`) that names
the first missing key and, when a section does not apply, says why: a misspelt path must not pass.
A value that cannot be compared (``null`` against a number) fails its check, saying so: a value the
report could not compute (``drift.dataset_drift`` is ``null`` when no feature could be tested) fails
whatever the operator, unless the condition asks for ``null`` itself.

Without conditions, :func:`default_conditions` derives them from the report's reference side:

* the current data has rows: ``current_rows > 0``;
* no dataset drift: ``drift.dataset_drift == false``;
* per feature, missing share at most the reference's plus ``MISSING_MARGIN`` (0.02), out-of-range
  share at most ``OUT_OF_RANGE_MARGIN`` (0.05: by chance alone about ``2 / (n + 1)`` of a sample
  like a reference of ``n`` rows lies outside its range), new-category share at most the
  reference's plus ``NEW_CATEGORY_MARGIN`` (0.02);
* each headline metric (MAE and RMSE, or accuracy, precision, recall and F1) within
  ``METRIC_TOLERANCE`` (10%) of its reference value, both ways, as Evidently's tests default to;
  realized metrics when the current data is labelled, else the label-free estimates; when the
  schema names a target but neither can be had, ``performance.applicable == true`` (it fails,
  saying why: a performance gate that cannot be evaluated never passes).

>>> report = {"drift": {"dataset_drift": False}, "performance": {"current": {"mae": 3.2}}}
>>> suite = run_checks(report, ["drift.dataset_drift == false", "performance.current.mae < 3"])
>>> suite.passed, [(check.condition, check.passed) for check in suite.checks]
(False, [('drift.dataset_drift == false', True), ('performance.current.mae < 3', False)])
>>> suite.checks[1].detail
'3.2 is not < 3'
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml

from modelmon.errors import CheckError

__all__ = [
    "METRIC_TOLERANCE",
    "MISSING_MARGIN",
    "NEW_CATEGORY_MARGIN",
    "OPERATORS",
    "OUT_OF_RANGE_MARGIN",
    "CheckResult",
    "CheckSuite",
    "Condition",
    "default_conditions",
    "parse_condition",
    "parse_conditions",
    "resolve",
    "run_checks",
]

MISSING_MARGIN = 0.02
OUT_OF_RANGE_MARGIN = 0.05
NEW_CATEGORY_MARGIN = 0.02
METRIC_TOLERANCE = 0.10
#: the metrics the default conditions hold within the tolerance, per task
DEFAULT_METRICS = {"regression": ("mae", "rmse"), "classification": ("accuracy", "precision", "recall", "f1")}


def _compare(operator: str, actual: Any, expected: Any) -> bool:
    if operator == "==":
        return bool(actual == expected)
    if operator == "!=":
        return bool(actual != expected)
    if operator in ("in", "not_in"):
        return (actual in expected) == (operator == "in")
    if operator == "between":
        low, high = expected
        return bool(low <= actual <= high)
    return bool(
        {"<": actual < expected, "<=": actual <= expected, ">": actual > expected, ">=": actual >= expected}[
            operator
        ]
    )


#: operator -> how it reads in a failure message
OPERATORS = {
    "==": "==",
    "!=": "!=",
    "<=": "<=",
    ">=": ">=",
    "<": "<",
    ">": ">",
    "not_in": "not in",
    "in": "in",
    "between": "between",
}
_CONDITION = re.compile(
    r"^\s*(?P<path>(?:\"[^\"]+\"|[^\s\"=!<>]+)+)\s*"
    r"(?P<operator>==|!=|<=|>=|<|>|\bnot_in\b|\bin\b|\bbetween\b)\s*(?P<value>.+?)\s*$"
)
_KEY = re.compile(r"\"([^\"]+)\"|([^.\"]+)")


@dataclass(frozen=True)
class Condition:
    """``path operator expected``, with an optional name shown instead of the condition text."""

    path: tuple[str, ...]
    operator: str
    expected: Any
    text: str
    name: str | None = None


_PATH = re.compile(r'(?:"[^"]+"|[^."]+)(?:\.(?:"[^"]+"|[^."]+))*')


def _split_path(text: str, condition: str) -> tuple[str, ...]:
    if not _PATH.fullmatch(text):
        raise CheckError(
            f"condition {condition!r}: the path {text!r} is not keys joined by dots "
            '(quote a key that holds a dot: a."b.c".d)'
        )
    return tuple(quoted or plain for quoted, plain in _KEY.findall(text))


def parse_condition(text: str, name: str | None = None) -> Condition:
    """One condition from its text, or a :class:`CheckError` saying what is wrong with it.

    >>> parse_condition("quality.columns.fare.missing_share < 0.05").path
    ('quality', 'columns', 'fare', 'missing_share')
    >>> parse_condition('segments.drift."zone.name".b.drifted_share <= 0.5').path[2]
    'zone.name'
    >>> parse_condition("drift.dataset_drift = false")
    Traceback (most recent call last):
    ...
    modelmon.errors.CheckError: condition 'drift.dataset_drift = false': expected PATH OPERATOR VALUE \
with an operator among == != < <= > >= in not_in between
    """
    if not isinstance(text, str):
        raise CheckError(f"a condition must be a string like 'drift.dataset_drift == false', got {text!r}")
    match = _CONDITION.match(text)
    if match is None:
        raise CheckError(
            f"condition {text!r}: expected PATH OPERATOR VALUE with an operator among "
            "== != < <= > >= in not_in between"
        )
    operator = match["operator"]
    try:
        expected = yaml.safe_load(match["value"])
    except yaml.YAMLError as exc:
        raise CheckError(f"condition {text!r}: the value {match['value']!r} is not a YAML literal") from exc
    if operator in ("in", "not_in") and not isinstance(expected, list):
        raise CheckError(f"condition {text!r}: {operator} needs a list, like [a, b]")
    if operator == "between" and not (
        isinstance(expected, list) and len(expected) == 2 and all(_is_number(item) for item in expected)
    ):
        raise CheckError(f"condition {text!r}: between needs two numbers, like [0.8, 1.2]")
    return Condition(_split_path(match["path"], text), operator, expected, text.strip(), name)


def parse_conditions(document: Any) -> list[Condition]:
    """Conditions from a parsed YAML document: a list (or ``{"conditions": [...]}``) of condition
    strings or ``{"check": CONDITION, "name": NAME}`` mappings.

    >>> document = {"conditions": ["drift.dataset_drift == false",
    ...                            {"check": "current_rows >= 100", "name": "enough rows"}]}
    >>> [condition.text for condition in parse_conditions(document)]
    ['drift.dataset_drift == false', 'current_rows >= 100']
    """
    items = document.get("conditions") if isinstance(document, Mapping) else document
    if not isinstance(items, list) or not items:
        raise CheckError(
            "expected a non-empty list of conditions (or a mapping with a 'conditions' list), "
            f"got {type(items).__name__}"
        )
    conditions = []
    for index, item in enumerate(items):
        if isinstance(item, Mapping):
            unknown = set(item) - {"check", "name"}
            if "check" not in item or unknown:
                raise CheckError(
                    f"conditions[{index}]: expected {{check: CONDITION, name: TEXT}}, got {dict(item)}"
                )
            conditions.append(parse_condition(item["check"], item.get("name")))
        else:
            conditions.append(parse_condition(item))
    return conditions


def resolve(report: Mapping[str, Any], path: Sequence[str]) -> Any:
    """The value at ``path`` in ``report``, or a :class:`CheckError` naming the first missing key."""
    value: Any = report
    for depth, key in enumerate(path):
        where = ".".join(path[: depth + 1])
        if isinstance(value, Mapping) and key in value:
            value = value[key]
            continue
        if isinstance(value, list) and key.lstrip("-").isdigit() and -len(value) <= int(key) < len(value):
            value = value[int(key)]
            continue
        parent = ".".join(path[:depth]) or "the report"
        if isinstance(value, Mapping):
            why = f"; it does not apply: {value['reason']}" if value.get("applicable") is False else ""
            keys = ", ".join(map(str, list(value)[:20]))
            raise CheckError(f"the report has no {where}: {parent} has keys {keys}{why}")
        if isinstance(value, list):
            raise CheckError(f"the report has no {where}: {parent} is a list of {len(value)} item(s)")
        raise CheckError(f"the report has no {where}: {parent} is the value {value!r}")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass
class CheckResult:
    """One condition's outcome: the value read, whether it holds, and why not."""

    name: str
    condition: str
    path: str
    operator: str
    expected: Any
    actual: Any
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CheckSuite:
    """Every check's result; the suite passes when every check does."""

    checks: list[CheckResult] = field(default_factory=list)
    generated: bool = False

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failed(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "total": len(self.checks),
            "failed": len(self.failed),
            "conditions": "generated from the reference" if self.generated else "given",
            "checks": [check.to_dict() for check in self.checks],
        }


def _evaluate(condition: Condition, report: Mapping[str, Any]) -> CheckResult:
    actual = resolve(report, condition.path)
    shown = OPERATORS[condition.operator]
    ordered = condition.operator in ("<", "<=", ">", ">=", "between")
    if actual is None and condition.expected is not None:
        passed, detail = False, "no value (null): the report could not evaluate it, so it does not hold"
    elif ordered and not _is_number(actual):
        passed, detail = False, f"{actual!r} is not a number to compare"
    elif isinstance(actual, float) and math.isnan(actual):
        passed, detail = False, "the value is NaN"
    else:
        try:
            passed = _compare(condition.operator, actual, condition.expected)
        except TypeError:
            passed = False
        detail = "" if passed else f"{actual!r} is not {shown} {condition.expected!r}"
    return CheckResult(
        name=condition.name or condition.text,
        condition=condition.text,
        path=".".join(condition.path),
        operator=condition.operator,
        expected=condition.expected,
        actual=actual,
        passed=passed,
        detail=detail,
    )


def run_checks(
    report: Mapping[str, Any] | Any, conditions: Iterable[Condition | str] | None = None
) -> CheckSuite:
    """Evaluate ``conditions`` (texts or :class:`Condition`; default: :func:`default_conditions`)
    over ``report`` (a :class:`~modelmon.engine.result.Report` or its JSON as a mapping)."""
    data = report.to_dict() if hasattr(report, "to_dict") else report
    generated = conditions is None
    chosen = default_conditions(data) if conditions is None else list(conditions)
    parsed = [item if isinstance(item, Condition) else parse_condition(item) for item in chosen]
    return CheckSuite([_evaluate(condition, data) for condition in parsed], generated=generated)


def _number_text(value: float) -> str:
    return repr(round(float(value), 6))


def default_conditions(report: Mapping[str, Any]) -> list[Condition]:
    """The conditions generated from the report's reference side (the module docstring lists them)."""
    conditions: list[Condition] = []

    def add(text: str, name: str) -> None:
        conditions.append(parse_condition(text, name))

    add("current_rows > 0", "the current data has rows")
    drift = report.get("drift") or {}
    if "dataset_drift" in drift:
        add("drift.dataset_drift == false", "no dataset drift")
    for column, info in ((report.get("quality") or {}).get("columns") or {}).items():
        if not isinstance(info, Mapping) or info.get("role", "feature") != "feature":
            continue
        key = f'"{column}"' if re.search(r"[.\s\"=!<>]", str(column)) else str(column)
        where = f"quality.columns.{key}"
        if _is_number(info.get("missing_share")):
            limit = (info.get("reference_missing_share") or 0.0) + MISSING_MARGIN
            add(f"{where}.missing_share <= {_number_text(limit)}", f"{column}: missing share")
        if _is_number(info.get("out_of_range_share")):
            add(f"{where}.out_of_range_share <= {OUT_OF_RANGE_MARGIN}", f"{column}: values out of range")
        if _is_number(info.get("new_category_share")):
            limit = (info.get("reference_new_category_share") or 0.0) + NEW_CATEGORY_MARGIN
            add(f"{where}.new_category_share <= {_number_text(limit)}", f"{column}: new categories")
    performance = report.get("performance") or {}
    estimated = performance.get("estimated") or {}
    block, prefix, label = performance, "performance", ""
    if performance.get("applicable") is False and estimated.get("applicable"):
        block, prefix, label = estimated, "performance.estimated", " (estimated)"
    schema = report.get("schema") or {}
    if performance and not block.get("applicable") and schema.get("target"):
        why = performance.get("reason") or "the performance section does not apply"
        add("performance.applicable == true", f"performance measured against {schema['target']!r} ({why})")
    if block.get("applicable"):
        task = schema.get("task") or performance.get("task") or "regression"
        for metric in DEFAULT_METRICS.get(task, ()):
            reference: Any = (block.get("reference") or {}).get(metric)
            if not _is_number((block.get("current") or {}).get(metric)) or not _is_number(reference):
                continue
            before = float(reference)
            low, high = sorted((before * (1 - METRIC_TOLERANCE), before * (1 + METRIC_TOLERANCE)))
            add(
                f"{prefix}.current.{metric} between [{_number_text(low)}, {_number_text(high)}]",
                f"{metric}{label} within {METRIC_TOLERANCE:.0%} of the reference ({_number_text(before)})",
            )
    return conditions
