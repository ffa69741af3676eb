"""A column read as floats is what pandas' parsing gives, for every kind of column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelmon.engine.floats import as_floats


def _columns(rng: np.random.Generator, rows: int) -> dict[str, pd.Series]:
    floats = rng.normal(size=rows) * 10.0 ** rng.integers(-300, 300, rows)
    floats[rng.random(rows) < 0.1] = np.nan
    floats[:4] = [np.inf, -np.inf, -0.0, 0.0]
    integers = rng.integers(-(2**62), 2**62, rows)
    text = np.where(rng.random(rows) < 0.2, "x", rng.normal(size=rows).astype(str)).astype(object)
    return {
        "float64": pd.Series(floats),
        "float32": pd.Series((floats / 1e280).clip(-1e30, 1e30).astype(np.float32)),
        "float16": pd.Series(rng.normal(size=rows).astype(np.float16)),
        "int64": pd.Series(integers),
        "int8": pd.Series(rng.integers(-128, 127, rows).astype(np.int8)),
        "uint64": pd.Series(rng.integers(0, 2**63, rows).astype(np.uint64) * np.uint64(2)),
        "bool": pd.Series(rng.random(rows) < 0.5),
        "nullable Int64": pd.Series(
            pd.array(np.where(rng.random(rows) < 0.2, None, integers), dtype="Int64")
        ),
        "nullable Float64": pd.Series(pd.array(floats, dtype="Float64")),
        "objects": pd.Series(np.where(rng.random(rows) < 0.5, floats, text).astype(object)),
        "text": pd.Series(text, dtype="str"),
        "dates": pd.Series(pd.to_datetime(integers % 2**40, unit="ms")),
        "categories": pd.Series(pd.Categorical(rng.integers(0, 5, rows))),
    }


@pytest.mark.parametrize("seed", [0, 1])
def test_every_kind_of_column_reads_as_pandas_parses_it(seed: int) -> None:
    for name, series in _columns(np.random.default_rng(seed), 500).items():
        expected = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        read = as_floats(series)
        assert read.dtype == np.float64, name
        np.testing.assert_array_equal(read, expected, err_msg=name)
        np.testing.assert_array_equal(np.signbit(read), np.signbit(expected), err_msg=name)
        assert not np.shares_memory(read, series.to_numpy()), name  # a new array: callers may write


def test_an_empty_column_reads_as_no_floats() -> None:
    assert as_floats(pd.Series([], dtype=np.int64)).shape == (0,)
