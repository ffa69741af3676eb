"""Checking requests against the API's schemas (:mod:`modelmon.service.api_schema`).

Messages name the field by its path and say what was expected, in a line a user can act on.

>>> from modelmon.service.api_schema import EVENT, HISTORY_QUERY
>>> check = SchemaCheck(EVENT)
>>> check.first_error({"features": {"x": [1, 2]}, "prediction": 1.0})
'features.x: expected number or string or boolean or null, got array'
>>> check.first_error({"features": {}})
'prediction: missing'
>>> parse_query(HISTORY_QUERY, {"limit": "20"})
{'names': None, 'limit': 20}
>>> parse_query(HISTORY_QUERY, {"limit": "²"})
Traceback (most recent call last):
...
modelmon.errors.BodyError: limit: expected an integer from 1 to 10000, got '²'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jsonschema_rs

from modelmon.errors import BodyError
from modelmon.service.api_schema import PATTERN_PROBLEMS, Schema

__all__ = ["SchemaCheck", "check_items", "parse_query", "shallow"]

_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array"))
_MAX_SHOWN = 80


def json_type(value: Any) -> str:
    """The JSON type name of a parsed value."""
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "object"
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), type(value).__name__)


def _shown(value: Any) -> str:
    # containers by their type only: their repr can be long, or deep enough to fail
    if isinstance(value, Mapping | list):
        return json_type(value)
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "..."


def shallow(schema: Schema) -> Schema:
    """``schema`` without the schemas of array items: for an envelope whose items are checked one by one."""
    result = {key: value for key, value in schema.items() if key != "items"}
    if "properties" in result:
        result["properties"] = {name: shallow(sub) for name, sub in result["properties"].items()}
    return result


class SchemaCheck:
    """A compiled JSON Schema whose errors read as ``path: what was expected, got what``."""

    def __init__(self, schema: Schema, root: str = "body") -> None:
        self.schema = schema
        self.root = root
        self._validator = jsonschema_rs.validator_for(schema)

    def is_valid(self, instance: Any) -> bool:
        return bool(self._validator.is_valid(instance))

    def first_error(self, instance: Any) -> str | None:
        """The first problem of ``instance``, or None when it is valid."""
        if self._validator.is_valid(instance):
            return None
        error = next(iter(self._validator.iter_errors(instance)))
        return self._message(error)

    def _subschema(self, schema_path: Sequence[str | int]) -> Any:
        node: Any = self.schema
        for step in list(schema_path)[:-1]:
            if isinstance(node, Mapping):
                node = node.get(step)
            elif isinstance(node, list) and isinstance(step, int) and step < len(node):
                node = node[step]
            else:
                return {}
        return node if isinstance(node, Mapping) else {}

    def _message(self, error: Any) -> str:
        path = [str(step) for step in error.instance_path]
        where = ".".join(path) or self.root
        kind = type(error.kind).__name__
        subschema = self._subschema(error.schema_path)
        if kind == "Required":
            return f"{'.'.join([*path, error.kind.property])}: missing"
        if kind == "AdditionalProperties":
            valid = sorted(subschema.get("properties", {}))
            unknown = f"unknown keys {sorted(error.kind.unexpected)}; valid keys: {valid}"
            return f"{where}: {unknown}" if path else unknown
        if kind == "Type":
            expected = " or ".join(sorted(error.kind.types, key=lambda t: _TYPE_ORDER.get(t, 9)))
            return f"{where}: expected {expected}, got {json_type(error.instance)}"
        if kind in ("Minimum", "Maximum", "ExclusiveMinimum", "ExclusiveMaximum"):
            word = "at least" if "Minimum" in kind else "at most"
            return f"{where}: expected {word} {error.kind.limit:g}, got {_shown(error.instance)}"
        if kind == "PropertyNames" and isinstance(error.instance, Mapping):
            refused = sorted(
                name for name in error.instance if name in subschema.get("not", {}).get("enum", ())
            )
            return f"{where}: names {refused} are reserved column names"
        if kind == "Pattern" and subschema.get("pattern") in PATTERN_PROBLEMS:
            return f"{where}: {PATTERN_PROBLEMS[subschema['pattern']]}"
        if kind == "MaxLength":
            return f"{where}: longer than {error.kind.limit} characters"
        if "description" in subschema:
            return f"{where}: {_shown(error.instance)} is not accepted; expected {subschema['description']}"
        return f"{where}: {error.message[:200]}"


_TYPE_ORDER = {"object": 0, "array": 1, "number": 2, "integer": 3, "string": 4, "boolean": 5, "null": 6}


def check_items(items: Sequence[Any], check: SchemaCheck) -> tuple[list[int], list[dict[str, Any]]]:
    """Indices of the valid items, and ``{"index", "error"}`` for each invalid one."""
    valid: list[int] = []
    rejected: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        error = check.first_error(item)
        if error is None:
            valid.append(index)
        else:
            rejected.append({"index": index, "error": error})
    return valid, rejected


def _integer(name: str, text: str, schema: Schema) -> int:
    low, high = schema.get("minimum"), schema.get("maximum")
    expected = f"an integer from {low} to {high}" if low is not None and high is not None else "an integer"
    digits = text.removeprefix("-")
    if not (text.isascii() and digits.isdecimal() and len(digits) <= 18):
        raise BodyError(f"{name}: expected {expected}, got {text[:_MAX_SHOWN]!r}")
    value = int(text)
    if (low is not None and value < low) or (high is not None and value > high):
        raise BodyError(f"{name}: expected {expected}, got {value}")
    return value


def parse_query(parameters: Mapping[str, Schema], query: Mapping[str, str]) -> dict[str, Any]:
    """The declared query parameters parsed by their schemas (defaults filled in); others are ignored."""
    values: dict[str, Any] = {}
    for name, schema in parameters.items():
        text = query.get(name)
        if text is None:
            values[name] = schema.get("default")
        elif schema.get("type") == "integer":
            values[name] = _integer(name, text, schema)
        else:
            if len(text) > schema.get("maxLength", 4096):
                raise BodyError(f"{name}: longer than {schema.get('maxLength', 4096)} characters")
            if "\x00" in text:  # no store can search for it (PostgreSQL's text cannot hold it)
                raise BodyError(f"{name}: holds a NUL character (%00), which no stored name has: remove it")
            values[name] = text
    return values
