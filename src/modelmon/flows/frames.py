"""Frames read from the store, renamed to the column names of the model's schema.

The store speaks in event fields (``prediction``, ``target``, ``id``, ``timestamp``,
``probability`` or ``proba_<class>``); the reference file and the schema use the model's own names
(``duration``, ``duration_actual``, ``ride_id``...). Profiles are fitted on the reference, so each
chunk of events is renamed before it is profiled.

>>> import pandas as pd
>>> from modelmon.schema import Schema
>>> schema = Schema(numerical=["distance"], prediction="duration", target="duration_actual", id="ride_id")
>>> chunk = pd.DataFrame({"id": ["a"], "timestamp": [pd.Timestamp("2026-01-01", tz="UTC")],
...                       "distance": [2.5], "prediction": [11.0], "target": [12.5], "latency_ms": [3.0],
...                       "attr_distance": [0.7], "debug_flag": [1]})
>>> list(store_frame_to_schema(chunk, schema).columns)
['ride_id', 'distance', 'duration', 'duration_actual', 'attr_distance']
"""

from __future__ import annotations

import pandas as pd

from modelmon.schema import Schema

__all__ = ["store_column_names", "store_frame_to_schema"]


def _probability_sources(column: str, schema: Schema) -> list[str]:
    """Store columns that may hold the schema's probability column ``column``, best first.

    The service keeps an event's probabilities as sent: keyed by the schema's column name
    (``proba_<column>`` in the store), by class label (``proba_<label>``, which is the column itself
    when it is called ``proba_<label>``), or, for a single column, as one number (``probability``).
    """
    sources = [f"proba_{column}", column]
    if len(schema.probabilities) == 1:
        sources += ["probability", f"proba_{schema.positive_class}"]
    return sources


def store_column_names(columns: list[str], schema: Schema) -> dict[str, str]:
    """Map store column names to schema names; columns the schema does not use are left out.

    >>> schema = Schema(task="classification", numerical=["age"], prediction="approved",
    ...                 probabilities=["proba"], segments=["region"])
    >>> store_column_names(["id", "age", "region", "prediction", "probability", "proba_1"], schema)
    {'age': 'age', 'region': 'region', 'prediction': 'approved', 'probability': 'proba'}
    """
    present = set(columns)
    mapping: dict[str, str] = {}
    for field, name in (
        ("id", schema.id),
        ("timestamp", schema.timestamp),
        ("prediction", schema.prediction),
        ("target", schema.target),
    ):
        if name is not None and field in present:
            mapping[field] = name
    taken = set(mapping)
    for column in schema.probabilities:
        source = next(
            (s for s in _probability_sources(column, schema) if s in present and s not in taken), None
        )
        if source is not None:
            mapping[source] = column
            taken.add(source)
    reserved = {"id", "timestamp", "prediction", "target", "probability", "latency_ms"}
    wanted = [*schema.features, *schema.segments, *schema.sensitive]
    for name in wanted:
        if name in present and name not in taken and name not in reserved:
            mapping.setdefault(name, name)
    for name in columns:
        if name.startswith("attr_") and name not in taken:
            mapping[name] = name
    # keep the store's column order, so renamed frames look alike chunk after chunk
    return {name: mapping[name] for name in columns if name in mapping}


def store_frame_to_schema(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """``frame`` (from :meth:`EventStore.read_frames`) with the schema's column names.

    Columns the schema does not know are dropped, except the attributions (``attr_<feature>``).
    """
    mapping = store_column_names([str(name) for name in frame.columns], schema)
    return frame[list(mapping)].rename(columns=mapping)
