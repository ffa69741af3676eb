"""The report JSON is strict JSON with plain types."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from modelmon.render.json import dumps, to_jsonable, write_json


def test_nan_and_infinity_become_null_and_numpy_types_become_plain():
    data = {
        "a": np.float32(1.5),
        "b": [np.nan, np.inf, -np.inf],
        "c": np.array([1, 2]),
        "d": np.bool_(True),
        "e": (1, 2),
        3: Path("x/y"),
    }
    plain = to_jsonable(data)
    assert plain == {"a": 1.5, "b": [None, None, None], "c": [1, 2], "d": True, "e": [1, 2], "3": "x/y"}
    assert type(plain["c"][0]) is int and type(plain["d"]) is bool
    json.loads(dumps(data))


def test_unknown_objects_are_an_error_that_names_them():
    with pytest.raises(TypeError, match="object"):
        to_jsonable({"x": object()})


def test_write_json_creates_folders(tmp_path):
    path = write_json(tmp_path / "a" / "b.json", {"x": float("nan")})
    assert json.loads(path.read_text()) == {"x": None}
