"""Profiles of consecutive slices of one frame, each column read once and each model called once.

A window's new rows fall in several buckets (20,000 rows between two recomputes of a 10,000-row
window fill 50 of them), and each bucket needs its own profile. Profiling the buckets one after
another pays every fixed cost once per bucket: reading each column, and calling the outlier forest
and the loss models of the label-free estimate. :func:`profile_slices` pays them once for all the
rows: columns are read by :mod:`.column_reader`, and a part whose type has a ``build_slices``
(``(frame, spec, bounds) -> [part or None per slice]``) builds all its slices from one pass (one
whose type sets ``takes_column_reads`` is also handed the column readers, and reads no column
twice); the others are built slice by slice. Each profile equals the profile of its slice alone.

>>> import pandas as pd
>>> from modelmon.engine.profile import ProfileSpec
>>> from modelmon.schema import Schema
>>> spec = ProfileSpec.fit(pd.DataFrame({"x": [1.0, 2.0, 3.0], "zone": list("aab")}), Schema(
...     numerical=["x"], categorical=["zone"]))
>>> frame = pd.DataFrame({"x": [1.0, 5.0, None, 2.0], "zone": ["a", "z", "b", "b"]})
>>> first, second = profile_slices(spec, frame, [0, 1, 4])
>>> first.rows, second.rows, second.columns["x"].missing, second.columns["zone"].new_count
(1, 3, 1, 1)
>>> second == spec.profile(frame.iloc[1:4])
True
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from modelmon.engine.column_reader import ColumnReader, column_reader
from modelmon.engine.columns import CategoricalColumn, NumericalColumn
from modelmon.engine.parts import PART_TYPES
from modelmon.engine.profile import Column, Profile, ProfileSpec

__all__ = ["column_reads", "profile_slices", "slice_bounds"]


def slice_bounds(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row's key: the rows ordered by key (stable), the distinct keys, and the bounds of
    each key's rows in that order (``bounds[i]:bounds[i + 1]``).

    >>> order, keys, bounds = slice_bounds(np.array([7, 5, 7, 5, 6]))
    >>> order.tolist(), keys.tolist(), bounds.tolist()
    ([1, 3, 4, 0, 2], [5, 6, 7], [0, 2, 3, 5])
    """
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    unique, starts = np.unique(ordered, return_index=True)
    return order, unique, np.append(starts, len(keys))


def column_reads(spec: ProfileSpec, frame: pd.DataFrame) -> dict[str, ColumnReader]:
    """Each profiled column of ``frame`` read once (:mod:`.column_reader`): a function from rows of
    ``frame`` to the column's summary over them.

    >>> import pandas as pd
    >>> from modelmon.schema import Schema
    >>> spec = ProfileSpec.fit(pd.DataFrame({"x": [1.0, 2.0]}), Schema(numerical=["x"]))
    >>> reads = column_reads(spec, pd.DataFrame({"x": [1.0, None, 2.0]}))
    >>> reads["x"](np.array([0, 2])).count, reads["x"](slice(0, 2)).missing
    (2, 1)
    """
    return {name: column_reader(spec, frame, name) for name in spec.columns if name in frame.columns}


def _empty(spec: ProfileSpec, name: str) -> Column:
    if name in spec.edges:
        return NumericalColumn.empty(spec.edges[name])
    return CategoricalColumn.empty(spec.categories[name], spec.tails.get(name))


def _part_slices(
    part_type: Any,
    frame: pd.DataFrame,
    spec: ProfileSpec,
    bounds: Sequence[int],
    reads: Mapping[str, ColumnReader] | None,
) -> list[Any]:
    build_slices = getattr(part_type, "build_slices", None)
    if build_slices is not None and reads is not None and getattr(part_type, "takes_column_reads", False):
        return list(build_slices(frame, spec, bounds, reads=reads))
    if build_slices is not None:
        return list(build_slices(frame, spec, bounds))
    if len(bounds) == 2:  # one slice, the whole frame (a window's few new rows): no copy of it
        return [part_type.build(frame, spec)]
    return [part_type.build(frame.iloc[start:end], spec) for start, end in pairwise(bounds)]


def profile_slices(
    spec: ProfileSpec,
    frame: pd.DataFrame,
    bounds: Sequence[int] | np.ndarray,
    parts: Collection[str] | None = None,
    reads: Mapping[str, ColumnReader] | None = None,
    positions: np.ndarray | None = None,
    ready: Sequence[Mapping[str, Column]] | None = None,
) -> list[Profile]:
    """The profile of each slice ``frame.iloc[bounds[i]:bounds[i + 1]]``, each equal to
    ``spec.profile(that slice, parts)``.

    ``bounds`` rise from 0 to ``len(frame)``; ``parts`` names the model-level parts to build (every
    fitted one by default). ``reads``, the :func:`column_reads` of a larger frame whose rows
    ``positions`` are ``frame``'s (all its rows when ``positions`` is None; its columns holding the
    same values), spares reading the columns again: a window reads its new rows once for the
    profiles of the events and of the labelled rows among them. ``ready[i]`` holds column summaries
    of slice ``i`` built already (of the same rows: all labelled, the events' are the labelled
    rows'), taken as they are.
    """
    bounds = [int(bound) for bound in bounds]
    if len(bounds) < 2 or bounds[0] != 0 or bounds[-1] != len(frame) or np.any(np.diff(bounds) < 0):
        raise ValueError(f"bounds must rise from 0 to the frame's {len(frame)} rows, got {bounds[:10]}")
    if reads is None:
        reads, positions = column_reads(spec, frame), None
    # a part may summarise columns from their reads, which must then be of this frame's rows
    shared = reads if positions is None else None
    names = list(spec.columns)
    absent = [name for name in names if name not in frame.columns]
    empty = {name: _empty(spec, name) for name in absent}
    unexpected = spec._unexpected(frame)
    built: dict[str, list[Any]] = {}
    for part_name, part_type in PART_TYPES.items():
        if part_name in spec.state and (parts is None or part_name in parts):
            built[part_name] = _part_slices(part_type, frame, spec, bounds, shared)
    profiles = []
    for i, (start, end) in enumerate(pairwise(bounds)):
        rows = slice(start, end) if positions is None else positions[start:end]
        done = ready[i] if ready is not None else {}
        columns = {
            name: empty[name] if name in empty else done[name] if name in done else reads[name](rows)
            for name in names
        }
        slice_parts = {name: each[i] for name, each in built.items() if each[i] is not None}
        profiles.append(
            Profile(
                spec,
                end - start,
                columns,
                absent_columns=list(absent),
                unexpected_columns=list(unexpected),
                parts=slice_parts,
            )
        )
    return profiles
