"""The report as JSON: strict JSON (NaN and infinities become ``null``), numpy types made plain.

>>> import numpy as np
>>> dumps({"score": np.float64("nan"), "rows": np.int64(3), "edges": np.array([1.5, np.inf])})
'{"score": null, "rows": 3, "edges": [1.5, null]}'
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["dumps", "to_jsonable", "write_json"]


def to_jsonable(value: Any) -> Any:
    """Plain JSON data: dicts with string keys, lists, str, int, float (finite), bool, None."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf":  # plain numbers already: only non-finite floats change
            items = value.tolist()
            return items if value.dtype.kind != "f" or np.isfinite(value).all() else _finite(items)
        return [to_jsonable(item) for item in value.tolist()]
    if isinstance(value, list | tuple | set | frozenset):
        # a report is mostly lists of floats (distributions, edges): those skip the per-item calls
        if all(type(item) is float for item in value):
            return _finite(value)
        return [to_jsonable(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "to_dict"):
        return to_jsonable(value.to_dict())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot write a {type(value).__name__} into the report JSON: {value!r}")


def _finite(numbers: Any) -> list[Any]:
    return [number if math.isfinite(number) else None for number in numbers]


def dumps(data: Any, indent: int | None = None) -> str:
    """Strict JSON text of ``data``."""
    return json.dumps(to_jsonable(data), indent=indent, allow_nan=False)


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as indented JSON (parent folders are created); returns the path."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(dumps(data, indent=2) + "\n", encoding="utf-8")
    return file
