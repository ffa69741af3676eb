"""Profiling a parquet file whose row groups are larger than a chunk, a few columns at a time.

A column's summary needs only that column. So when the sections read no whole rows (no
model-level parts, no row sample, no duplicate count: ``--sections drift`` for instance) and a
file's row groups do not fit in a chunk (:func:`~modelmon.reading.files.column_subsets`, as
``DataFrame.to_parquet()`` writes them), each side is read in passes over subsets of its columns,
whole row groups of a few columns at a time:

- the reference's spec is fitted subset by subset, each from a
  :class:`~modelmon.engine.fitting.ReferenceSketch` with the sample size of the whole schema; the
  sketch samples row positions, not values, so every pass samples the same rows and the spec is
  the one a sketch of whole rows fits;
- each column is then counted against the spec, and the current side's whole-row work (the
  time-ordered stream of prediction, target and timestamp) reads only those columns.

The decisions are those of reading whole rows
(``tests/engine/test_column_passes.py::test_by_columns_the_report_is_the_one_of_whole_rows``);
the memory is that of a few columns
(``tests/engine/test_column_passes.py::test_a_one_row_group_file_is_read_in_bounded_memory``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmon.engine.profile import Column, Profile, ProfileSpec, map_columns
from modelmon.engine.sides import ReferenceSide, reference_sketch, wanted_columns
from modelmon.errors import SchemaError
from modelmon.reading.plan import ReadPlan, exact_rows
from modelmon.schema import Schema

if TYPE_CHECKING:
    from modelmon.engine.sides import CurrentSide

__all__ = ["by_columns", "fit_reference_by_columns", "profile_current_by_columns"]


def by_columns(
    data: Any, schema: Schema, sections: Sequence[str] | None, plan: ReadPlan
) -> list[list[str]] | None:
    """The column subsets to read ``data`` in, or ``None`` when it is read by whole rows (also when
    the plan fixes the rows a chunk)."""
    from modelmon.engine.sections import parts_for, reads_rows

    if not isinstance(data, str | Path) or plan.chunk_rows is not None or sections is None:
        return None
    rows_needed = reads_rows(sections) or parts_for(sections) or "quality" in sections
    if rows_needed or (schema.embeddings and "drift" in sections):
        return None
    from modelmon.reading.files import column_subsets

    return column_subsets(data, _profiled(schema), plan.memory_budget)


def _profiled(schema: Schema) -> list[str]:
    """The columns a profile summarises, except those the current side also keeps row by row."""
    kept = {schema.timestamp, schema.prediction, schema.target, *schema.probabilities}
    return [name for name in schema.monitored_columns if name not in kept]


def _subset_schema(schema: Schema, names: Sequence[str]) -> Schema:
    """A schema of ``names`` alone, each profiled as in ``schema``."""
    return Schema(
        task=schema.task,
        numerical=tuple(name for name in names if schema.kind(name) == "numerical"),
        categorical=tuple(name for name in names if schema.kind(name) == "categorical"),
    )


def _count(
    path: Any,
    spec: ProfileSpec,
    subsets: list[list[str]],
    plan: ReadPlan,
    counted: dict[str, Column] | None = None,
) -> dict[str, Column]:
    """Each column of ``subsets`` counted against ``spec``, pass by pass, into ``counted``."""
    counted = {} if counted is None else counted
    for subset in subsets:
        for chunk in plan.chunks(path, subset, _categorical(spec.schema, subset)):
            _count_chunk(spec, chunk, subset, counted)
    return counted


def _count_chunk(spec: ProfileSpec, chunk: Any, subset: Sequence[str], counted: dict[str, Column]) -> None:
    names = [name for name in subset if name in chunk.columns]
    summaries = map_columns(partial(spec.column_summary, chunk), names, len(chunk))
    for name, summary in zip(names, summaries, strict=True):
        counted[name] = counted[name] + summary if name in counted else summary


def _categorical(schema: Schema, names: Sequence[str]) -> list[str]:
    """The categorical columns among ``names``: read from the file's dictionaries, as categoricals,
    where they are text (their labels are the same; the rows' strings are never decoded)."""
    return [name for name in names if schema.kind(name) == "categorical"]


def _with_columns(profile: Profile, counted: dict[str, Column]) -> Profile:
    profile.columns = {name: counted.get(name, column) for name, column in profile.columns.items()}
    profile.absent_columns = [name for name in profile.absent_columns if name not in counted]
    return profile


def fit_reference_by_columns(
    path: Any,
    schema: Schema,
    subsets: list[list[str]],
    *,
    sections: Sequence[str],
    plan: ReadPlan,
) -> ReferenceSide:
    """The reference side of ``path`` read subset by subset (see the module's docstring)."""
    from modelmon.engine.fitting import ReferenceSketch
    from modelmon.reading.files import file_columns

    present = set(file_columns(path))
    missing = [name for name in schema.monitored_columns if name not in present and name != schema.target]
    if missing:
        raise SchemaError(f"the reference has no column(s) {missing}; it has {sorted(present)}")
    total_rows = exact_rows(path)
    sample_rows = reference_sketch(schema, plan.memory_budget, total_rows).sample_rows  # the whole schema's
    kept = [name for name in schema.monitored_columns if name in present and name not in _profiled(schema)]
    spec = ProfileSpec(schema)
    picks: dict[tuple[int, int], Any] = {}  # every pass samples the same rows: found once
    counted: dict[str, Column] = {}
    second_pass: list[list[str]] = []  # the subsets read in more than one chunk: counted on a second read
    for subset in [*subsets, kept] if kept else subsets:
        sketch = ReferenceSketch(
            _subset_schema(schema, subset),
            sample_rows=sample_rows,
            columns=subset,
            total_rows=total_rows,
            picks=picks,
        )
        whole: Any = None  # the subset's every row, when they came in one chunk
        for chunk in plan.chunks(path, subset, _categorical(schema, subset)):
            sketch.update(chunk)
            whole = chunk if whole is None and len(chunk) == total_rows else None
        fitted = sketch.spec(parts=())
        for field in ("edges", "exact", "categories", "truncated", "tails"):
            getattr(spec, field).update(getattr(fitted, field))
        if whole is not None:  # counted from memory: the same chunk a second read would give
            _count_chunk(spec, whole, subset, counted)
        else:
            second_pass.append(subset)
        del whole
    rows = total_rows if total_rows is not None else sketch.rows
    profile = _with_columns(
        Profile(spec, rows, dict(spec.empty().columns), absent_columns=list(spec.columns)),
        _count(path, spec, second_pass, plan, counted),
    )
    return ReferenceSide(spec, profile, None, None, tuple(sections))


def profile_current_by_columns(
    side: CurrentSide, path: Any, subsets: list[list[str]], plan: ReadPlan
) -> None:
    """Feed ``side`` the rows of ``path``: the columns kept row by row in whole rows, then each
    subset's columns counted pass by pass."""
    sliced = {name for subset in subsets for name in subset}
    row_columns = [name for name in wanted_columns(side.reference.schema) if name not in sliced]
    for chunk in plan.chunks_ahead(path, row_columns):
        side.update(chunk)
    _with_columns(side.profile, _count(path, side.reference.spec, subsets, plan))
