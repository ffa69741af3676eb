"""Schema inference with some roles given, the columns it leaves out, and names checked against the data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelmon.errors import SchemaError
from modelmon.schema import Schema, nested_type, suggest_column


def _diabetes_like(rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "patient": [f"p{i}" for i in range(rows)],
            "age": rng.integers(19, 80, rows),
            "sex": rng.integers(1, 3, rows),
            "clinic": rng.choice(["north", "south"], rows),
            "bmi": rng.normal(26, 4, rows),
            "bp": rng.normal(95, 14, rows),
            "visit": pd.date_range("2024-01-01", periods=rows, freq="h"),
            "labs": [{"hdl": float(i)} for i in range(rows)],
            "codes": [[i % 3, 1] for i in range(rows)],
            "progression": rng.normal(150, 70, rows),
        }
    )


def test_partial_roles_take_their_columns_and_the_rest_is_inferred():
    frame = _diabetes_like()
    without = Schema.infer(frame, target="progression")
    given = Schema.infer(frame, target="progression", categorical=["sex", "clinic"])
    assert given.categorical == ("sex", "clinic")
    assert given.numerical == without.numerical == ("age", "bmi", "bp")
    only = Schema.infer(frame, target="progression", categorical=["sex", "clinic"], only_given=True)
    assert only.features == ("sex", "clinic")


def test_a_given_numerical_column_keeps_that_role_even_if_inference_says_otherwise():
    schema = Schema.infer(_diabetes_like(), numerical=["sex"])
    assert "sex" in schema.numerical and "sex" not in schema.categorical and "clinic" in schema.categorical


def test_ids_dates_structs_and_lists_are_not_inferred_as_features():
    schema = Schema.infer(_diabetes_like())
    assert not {"patient", "visit", "labs", "codes"} & set(schema.features)
    # with too few rows to tell, distinct text is a category as before
    assert "patient" in Schema.infer(_diabetes_like(10)).categorical


def test_probabilities_given_make_the_task_classification_and_are_not_features():
    frame = pd.DataFrame({"x": np.linspace(0, 1, 50), "proba": np.linspace(0, 1, 50), "label": [0, 1] * 25})
    schema = Schema.infer(frame, prediction="label", probabilities=["proba"])
    assert schema.task == "classification" and schema.features == ("x",)
    assert Schema.infer(
        frame.assign(label=frame["x"] * 2.5), prediction="label", probabilities=["proba"]
    ).task == ("classification")


def test_nested_type_tells_structs_and_lists_from_scalars():
    assert nested_type(pd.Series([None, {"a": 1}])) == "struct"
    assert nested_type(pd.Series([np.array([1.0, 2.0])])) == "list"
    assert nested_type(pd.Series(["a", None])) is None and nested_type(pd.Series([1.0])) is None


@pytest.mark.parametrize(
    ("role", "value", "message"),
    [
        (
            "target",
            "progresion",
            "target 'progresion': the reference has no such column (did you mean 'progression'?)",
        ),
        (
            "prediction",
            "Progression",
            "prediction 'Progression': the reference has no such column (did you mean",
        ),
        ("id", "patient_id", "id 'patient_id': the reference has no such column (did you mean 'patient'?)"),
        ("timestamp", "time", "timestamp 'time': the reference has no such column"),
        (
            "segments",
            ("clinik",),
            "segments 'clinik': the reference has no such column (did you mean 'clinic'?)",
        ),
        ("sensitive", ("sexx",), "sensitive 'sexx'"),
        ("numerical", ("bmii",), "numerical 'bmii'"),
        ("categorical", ("labs",), "categorical 'labs': a struct column"),
        ("probabilities", ("p",), "probabilities 'p'"),
    ],
)
def test_check_columns_names_the_role_the_column_and_the_closest_name(role, value, message):
    frame = _diabetes_like()
    schema = Schema(**{role: value})
    with pytest.raises(SchemaError) as caught:
        schema.check_columns(frame.columns, unsupported={"labs": "struct", "codes": "list"})
    assert message in str(caught.value)


def test_check_columns_passes_a_schema_of_present_scalar_columns_and_list_embeddings():
    frame = _diabetes_like()
    Schema(numerical=["bmi"], target="progression", embeddings={"codes": ["codes"]}).check_columns(
        frame.columns, unsupported={"codes": "list"}
    )


def test_suggest_column_prefers_a_case_match_then_a_close_one():
    assert suggest_column("BMI", ["bmi", "bp"]) == "bmi"
    assert suggest_column("clinik", ["clinic", "age"]) == "clinic"
    assert suggest_column("zzz", ["clinic", "age"]) is None
