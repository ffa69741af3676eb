"""Property tests over the engine: any frame within the schema's types builds a full report, and
profiles add up to the profile of the concatenation.

Frames are drawn column by column in one of several shapes: ordinary values, all null, constant,
mixed types (numbers, numeric and other strings, booleans, None in one column), non-finite
values (inf, -inf, NaN), with zero to a few dozen rows on each side (an empty current frame and a
single row included). Every example runs every section of the report. Bounded: 25 report examples
and 60 merge examples, no deadline (a report trains small models); about 25 s in all.

Merging: ``profile(a) + profile(b)`` equals ``profile(concat(a, b))`` with counts exactly equal and
float sums (``sum``, ``sum_sq``, cell sums) within a relative 1e-9 (absolute 1e-9 near zero), since
summing in another order rounds differently.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelmon.engine.build import build_report
from modelmon.engine.profile import Profile, ProfileSpec
from modelmon.engine.sections import section_names
from modelmon.render.html import render_html
from modelmon.render.json import to_jsonable
from modelmon.schema import Schema

NUMERICAL = ["x", "w"]
CATEGORICAL = ["c", "d"]
REGRESSION = Schema(
    numerical=NUMERICAL,
    categorical=CATEGORICAL,
    prediction="pred",
    target="truth",
    timestamp="ts",
    segments=["c"],
    sensitive=["d"],
    task="regression",
)
CLASSIFICATION = Schema(
    numerical=NUMERICAL,
    categorical=CATEGORICAL,
    prediction="pred",
    probabilities=["proba"],
    target="truth",
    segments=["c"],
    sensitive=["d"],
    task="classification",
)

#: finite floats up to 1e15 in size, subnormals included (beyond about 1e150 squares overflow the
#: float range: profiles then hold infinite sums, and scikit-learn's float32 models overflow at 3e38)
_FINITE = st.floats(-1e15, 1e15, allow_nan=False, allow_infinity=False)
_ODD = st.sampled_from([math.nan, math.inf, -math.inf, None])
_MIXED = st.one_of(_FINITE, _ODD, st.integers(-5, 5), st.booleans(), st.sampled_from(["1.5", "abc", "", "7"]))
_LABELS = st.one_of(
    st.sampled_from(["a", "b", "c", "z"]), st.integers(0, 3), st.sampled_from([1.0, None, True])
)


def _column(kind: str, rows: int) -> st.SearchStrategy[list[Any]]:
    """A column's values in one of the shapes the engine must cope with."""
    ordinary = st.lists(
        _FINITE if kind == "numerical" else st.sampled_from(["a", "b", "c"]), min_size=rows, max_size=rows
    )
    constant = (_FINITE if kind == "numerical" else _LABELS).map(lambda value: [value] * rows)
    shapes = [
        ordinary,
        st.just([None] * rows),
        constant,
        st.lists(_MIXED if kind == "numerical" else _LABELS, min_size=rows, max_size=rows),
    ]
    if kind == "numerical":
        shapes.append(st.lists(st.one_of(_FINITE, _ODD), min_size=rows, max_size=rows))
    return st.one_of(shapes)


@st.composite
def frames(draw: st.DrawFn, schema: Schema, min_rows: int = 0, max_rows: int = 60) -> pd.DataFrame:
    rows = draw(st.integers(min_rows, max_rows))
    data: dict[str, Any] = {}
    for name in NUMERICAL:
        data[name] = draw(_column("numerical", rows))
    for name in CATEGORICAL:
        data[name] = draw(_column("categorical", rows))
    if schema.task == "regression":
        data["pred"] = draw(_column("numerical", rows))
        data["truth"] = draw(_column("numerical", rows))
    else:
        labels = st.sampled_from([0, 1, None, "1", 1.0])
        data["pred"] = draw(st.lists(labels, min_size=rows, max_size=rows))
        data["truth"] = draw(st.lists(labels, min_size=rows, max_size=rows))
        data["proba"] = draw(st.lists(st.one_of(st.floats(0, 1), _ODD), min_size=rows, max_size=rows))
    if schema.timestamp:
        data["ts"] = pd.date_range("2024-01-01", periods=rows, freq="s")
    return pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in data.items()})


def _check_report(reference: pd.DataFrame, current: pd.DataFrame, schema: Schema) -> None:
    report = build_report(reference, current, schema)
    data = to_jsonable(report.to_dict())
    json.dumps(data, allow_nan=False)  # plain JSON: no NaN or infinity leaks out
    for section in section_names():
        body = data[section]
        assert isinstance(body, dict), section
        assert not (body.get("applicable") is False and "error" in body), (section, body)
    assert data["current_rows"] == len(current)
    render_html(data)


@pytest.mark.parametrize("schema", [REGRESSION, CLASSIFICATION], ids=["regression", "classification"])
def test_any_frames_build_a_full_report(schema: Schema) -> None:
    @settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(frames(schema, min_rows=1), frames(schema))
    def check(reference: pd.DataFrame, current: pd.DataFrame) -> None:
        _check_report(reference, current, schema)

    check()


@pytest.mark.parametrize("current_rows", [0, 1])
def test_empty_and_single_row_current_data(current_rows: int) -> None:
    rng = np.random.default_rng(0)
    reference = pd.DataFrame(
        {
            "x": rng.normal(size=80),
            "w": rng.normal(size=80),
            "c": rng.choice(["a", "b"], 80),
            "d": rng.choice(["m", "f"], 80),
            "pred": rng.normal(size=80),
            "truth": rng.normal(size=80),
            "ts": pd.date_range("2024-01-01", periods=80, freq="s"),
        }
    )
    _check_report(reference, reference.iloc[:current_rows], REGRESSION)


def _close(left: Any, right: Any, path: str = "") -> None:
    """Equal, floats within a relative 1e-9 (sums in another order round differently)."""
    if isinstance(left, dict):
        assert isinstance(right, dict) and left.keys() == right.keys(), path
        for key in left:
            _close(left[key], right[key], f"{path}.{key}")
    elif isinstance(left, list):
        assert isinstance(right, list) and len(left) == len(right), path
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            _close(a, b, f"{path}[{i}]")
    elif isinstance(left, float) and not isinstance(right, bool):
        assert right == pytest.approx(left, rel=1e-9, abs=1e-9, nan_ok=True), path
    else:
        assert left == right, path


def _check_merge(reference: pd.DataFrame, first: pd.DataFrame, second: pd.DataFrame, parts: Any) -> None:
    spec = ProfileSpec.fit(reference, REGRESSION, parts=parts)
    whole = spec.profile(pd.concat([first, second], ignore_index=True))
    total = spec.profile(first) + spec.profile(second)
    _close(total.to_dict(), whole.to_dict())
    assert total.rows == len(first) + len(second)
    again = Profile.from_dict(json.loads(json.dumps(to_jsonable(total.to_dict()))), spec)
    _close(again.to_dict(), total.to_dict())


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames(REGRESSION, min_rows=1), frames(REGRESSION), frames(REGRESSION))
def test_column_profiles_of_parts_add_up_to_the_profile_of_the_whole(
    reference: pd.DataFrame, first: pd.DataFrame, second: pd.DataFrame
) -> None:
    _check_merge(reference, first, second, parts=())


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames(REGRESSION, min_rows=1), frames(REGRESSION), frames(REGRESSION))
def test_full_profiles_with_model_parts_add_up(
    reference: pd.DataFrame, first: pd.DataFrame, second: pd.DataFrame
) -> None:
    _check_merge(reference, first, second, parts=None)
