"""build_report checks the reference's columns against the schema before it fits the reference."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelmon.engine.build import build_report
from modelmon.errors import SchemaError
from modelmon.schema import Schema


@pytest.fixture
def reference() -> pd.DataFrame:
    return pd.DataFrame(
        {"bmi": [20.0 + i for i in range(40)], "clinic": ["a", "b"] * 20, "progression": range(40)}
    )


@pytest.mark.parametrize("as_file", [False, True])
def test_a_report_from_python_refuses_a_misspelt_target_or_segment_naming_the_closest_column(
    tmp_path, reference, as_file
):
    data = reference
    if as_file:
        data = tmp_path / "reference.parquet"
        reference.to_parquet(data)
    schema = Schema(numerical=["bmi"], prediction="progression", target="progresion", segments=["clinc"])
    with pytest.raises(SchemaError) as caught:
        build_report(data, reference, schema)
    message = str(caught.value)
    assert "target 'progresion'" in message and "(did you mean 'progression'?)" in message
    assert "segments 'clinc'" in message and "(did you mean 'clinic'?)" in message


def test_a_report_from_python_refuses_a_list_column_named_as_a_feature(tmp_path, reference):
    path = tmp_path / "reference.parquet"
    table = pa.Table.from_pandas(reference).append_column("tags", pa.array([[1, 2]] * len(reference)))
    pq.write_table(table, path)
    with pytest.raises(SchemaError, match=r"numerical 'tags': a list<element: int64> column"):
        build_report(path, reference, Schema(numerical=["bmi", "tags"]))
