"""Turn a chunk of stored events into the flat frame that :meth:`EventStore.read_frames` yields.

Every backend hands over the same columns as Python lists, so the frames look the same whatever
the backend: nested values (features, per-class probabilities, attributions) are spread into
columns here, once per chunk, instead of row by row.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.json as pa_json

__all__ = ["build_frame", "decode_json_column", "json_objects_frame"]


def decode_json_column(texts: Sequence[str]) -> list[Any]:
    """Decode a column of JSON texts with one parser call (much faster than one call per row).

    >>> decode_json_column(['{"x": 1}', 'null', '2.5'])
    [{'x': 1}, None, 2.5]
    """
    if not texts:
        return []
    return json.loads("[" + ",".join(texts) + "]")


def json_objects_frame(texts: Sequence[str]) -> pd.DataFrame:
    """One column per key of a column of JSON objects (the stored features).

    Arrow's JSON reader parses the whole chunk in C++ (about five times faster than ``json.loads`` plus
    ``DataFrame.from_records``); values whose type changes between rows (a number here, a string there)
    make it give up, and then the rows are decoded one by one in Python.

    >>> json_objects_frame(['{"x": 1, "c": "a"}', '{"x": 2.5}']).to_dict("list")
    {'x': [1.0, 2.5], 'c': ['a', nan]}
    >>> json_objects_frame(['{"x": 1}', '{"x": "one"}']).to_dict("list")
    {'x': [1, 'one']}
    """
    if not texts:
        return pd.DataFrame()
    try:
        table = pa_json.read_json(io.BytesIO("\n".join(texts).encode()))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pd.DataFrame.from_records(decode_json_column(texts), index=pd.RangeIndex(len(texts)))
    return table.to_pandas()


def _spread(dicts: Sequence[Any] | pd.DataFrame, prefix: str, index: pd.RangeIndex) -> pd.DataFrame:
    """Columns ``prefix + key`` from a list of dicts (``None`` or a non-dict gives missing values)."""
    if isinstance(dicts, pd.DataFrame):
        return dicts.set_axis(index).add_prefix(prefix) if prefix else dicts.set_axis(index)
    # list.count runs in C: the common all-missing case costs nothing per row in Python
    if list(dicts).count(None) == len(dicts) or not any(isinstance(item, dict) for item in dicts):
        return pd.DataFrame(index=index)
    records = [item if isinstance(item, dict) else {} for item in dicts]
    frame = pd.DataFrame.from_records(records, index=index)
    return frame.add_prefix(prefix) if prefix else frame


def _column(values: Sequence[Any]) -> pd.Series:
    return pd.Series(values if values else [], dtype=None if values else object)


def build_frame(
    ids: Sequence[str | None],
    timestamps_ms: Sequence[int],
    features: Sequence[dict[str, Any]] | pd.DataFrame,
    predictions: Sequence[Any],
    probabilities: Sequence[Any],
    targets: Sequence[Any],
    latencies: Sequence[float | None],
    attributions: Sequence[Any],
) -> pd.DataFrame:
    """The frame of one chunk of events; ``timestamps_ms`` are milliseconds since the epoch (UTC).

    ``features`` is a list of dicts or, already spread, a frame with one column per feature.

    >>> frame = build_frame(["a", "b"], [0, 1000], [{"x": 1.0}, {"x": 2.0}], [0, 1],
    ...                     [{"0": 0.8, "1": 0.2}, {"0": 0.1, "1": 0.9}], [None, 1], [5.0, None],
    ...                     [{"x": 0.3}, None])
    >>> list(frame.columns)
    ['id', 'timestamp', 'x', 'prediction', 'proba_0', 'proba_1', 'target', 'latency_ms', 'attr_x']
    >>> str(frame["timestamp"].iloc[1])
    '1970-01-01 00:00:01+00:00'
    """
    index = pd.RangeIndex(len(ids))
    stamps = pd.to_datetime(np.asarray(timestamps_ms, dtype="int64"), unit="ms", utc=True)
    parts: list[pd.DataFrame | pd.Series] = [
        pd.Series(list(ids), index=index, dtype=object, name="id"),
        pd.Series(stamps, index=index, name="timestamp"),
        _spread(features, "", index),
        pd.Series(_column(predictions).array, index=index, name="prediction"),
    ]
    probabilities = list(probabilities)
    numbers = (
        []
        if probabilities.count(None) == len(probabilities)
        else [p if isinstance(p, int | float) and not isinstance(p, bool) else None for p in probabilities]
    )
    if numbers and numbers.count(None) < len(numbers):
        parts.append(pd.Series(numbers, index=index, dtype="float64", name="probability"))
    parts.append(_spread(probabilities, "proba_", index))
    parts.append(pd.Series(_column(targets).array, index=index, name="target"))
    parts.append(pd.Series(latencies, index=index, dtype="float64", name="latency_ms"))
    parts.append(_spread(attributions, "attr_", index))
    return pd.concat(parts, axis=1)
