"""The report builder: profile a reference and a current dataset, then run every report section.

Both sides are read in chunks sized by a memory budget in bytes (``memory_budget``, 256 MiB by
default; see :mod:`modelmon.reading.files`), so memory does not grow with the rows of either. The reference
is read twice: once to fit the spec (edges from its distinct values or from a bounded sample of
its rows, see :mod:`modelmon.engine.fitting`), once to profile it against that spec; a reference
that fits in one chunk is read once. Besides the two profiles the builder keeps, in bounded
memory: a uniform sample of rows of each dataset (for sections that need raw rows), the current
(timestamp, prediction, target, probabilities) stream in time order, and one 64-bit hash per
current row to count duplicate rows (8 bytes per row, 16 while counting at the end). What is kept
depends on row positions only, so sides fed partitions on several processes add up to the side
of one process (:mod:`modelmon.engine.distributed`). To compare many current datasets with one reference
(batch runs, backfills), fit a :class:`~modelmon.engine.sides.ReferenceSide` once and feed each
dataset to a :class:`~modelmon.engine.sides.CurrentSide`.

>>> import pandas as pd
>>> from modelmon.schema import Schema
>>> reference = pd.DataFrame({"distance": [1.0, 2.0, 3.0, 4.0] * 25, "zone": list("abca") * 25})
>>> current = pd.DataFrame({"distance": [5.0, 2.0, None, 4.0] * 25, "zone": list("abzz") * 25})
>>> report = build_report(reference, current, Schema(numerical=["distance"], categorical=["zone"]),
...                       sections=("quality",))
>>> report.current_rows, report.sections["quality"]["columns"]["zone"]["new_category_share"]
(100, 0.5)
>>> report.to_dict()["performance"]["applicable"]
False
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import pandas as pd

from modelmon.config import DriftSettings
from modelmon.engine.profile import Profile
from modelmon.engine.result import Report
from modelmon.engine.sides import CurrentSide, ReferenceSide, fits_in_memory, reference_bytes, wanted_columns
from modelmon.reading.plan import Data, ReadPlan, check_reference, exact_rows, total_rows
from modelmon.reading.sizes import DEFAULT_MEMORY_BUDGET
from modelmon.schema import Schema

__all__ = ["build_report", "fit_reference", "note_unexpected_columns"]


def _progress(enabled: bool) -> Any:
    from contextlib import nullcontext

    if not enabled:
        return nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("profiling current rows"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def note_unexpected_columns(profile: Profile, data: Data, schema: Schema) -> None:
    """Record in ``profile`` the columns of file ``data`` that the schema does not name (it read
    only the named ones); a frame's chunks recorded theirs as they were profiled."""
    if not isinstance(data, pd.DataFrame):
        from modelmon.reading.files import file_columns

        profile.unexpected_columns = schema.check(file_columns(data))["unexpected"]


def fit_reference(
    reference: Data,
    schema: Schema,
    *,
    sample_rows: int = 5_000,
    seed: int = 0,
    sections: Sequence[str] | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    chunk_rows: int | None = None,
    unfitted: Collection[str] = (),
) -> ReferenceSide:
    """The reference side of a report on ``reference`` (a frame or a parquet/CSV path): held and
    fitted in memory when it fits (:func:`fits_in_memory`), else sketched and profiled in chunks;
    the parts named in ``unfitted`` are not fitted."""
    from modelmon.engine.column_passes import by_columns, fit_reference_by_columns

    check_reference(reference, schema)
    wanted = wanted_columns(schema)
    plan = ReadPlan(memory_budget, chunk_rows)
    in_memory = fits_in_memory(reference_bytes(reference, wanted), memory_budget, sections)
    subsets = None if in_memory else by_columns(reference, schema, sections, plan)
    if subsets is not None and sections is not None:  # row groups larger than a chunk
        side = fit_reference_by_columns(reference, schema, subsets, sections=sections, plan=plan)
        note_unexpected_columns(side.profile, reference, schema)
        return side
    side = ReferenceSide.fit_chunks(
        lambda: plan.chunks_ahead(reference, wanted),
        schema,
        sample_rows=sample_rows,
        seed=seed,
        sections=sections,
        memory_budget=memory_budget,
        total_rows=exact_rows(reference),
        in_memory=in_memory,
        unfitted=unfitted,
    )
    note_unexpected_columns(side.profile, reference, schema)
    return side


def _nothing_to_estimate(
    current: Data, schema: Schema, sections: Sequence[str] | None, plan: ReadPlan
) -> tuple[str, ...]:
    """``("dle",)`` when the regression's loss models would estimate nothing: every current row
    has its target, whose errors are realized (:func:`~modelmon.engine.dle.every_row_labelled`)."""
    from modelmon.engine.sections import parts_for

    parts = parts_for(sections)
    if schema.task != "regression" or (parts is not None and "dle" not in parts):
        return ()
    from modelmon.engine.dle import every_row_labelled

    return ("dle",) if every_row_labelled(current, schema, plan) else ()


def build_report(
    reference: Data | ReferenceSide,
    current: Data,
    schema: Schema | None = None,
    *,
    drift: DriftSettings | None = None,
    model: Any = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    chunk_rows: int | None = None,
    sample_rows: int = 5_000,
    stream_rows: int = 20_000,
    sections: Sequence[str] | None = None,
    progress: bool = False,
    seed: int = 0,
) -> Report:
    """Compare ``current`` with ``reference`` (DataFrames or parquet/CSV paths) and run the sections.

    ``reference`` may also be a :class:`ReferenceSide` already fitted (its schema and sections
    are then used), so that one reference serves many reports and its rows need not be kept.
    ``schema`` defaults to one inferred from the reference's first chunk. ``model`` is a fitted
    estimator or the path of a joblib/pickle file (for explanations). ``sections`` limits the
    sections run. Both sides are read in chunks sized by ``memory_budget`` (bytes), or of
    ``chunk_rows`` rows when given. ``progress`` draws a bar on stderr when the current data spans
    more than one chunk.
    """
    plan = ReadPlan(memory_budget, chunk_rows)
    if sections is not None:
        from modelmon.engine.sections import check_sections

        sections = check_sections(sections)
    plan.walk_footers(reference, current)
    if isinstance(reference, ReferenceSide):
        reference_side = reference
        schema = reference.schema
    else:
        if schema is None:
            schema = plan.infer_schema(reference)
        reference_side = fit_reference(
            reference,
            schema,
            sample_rows=sample_rows,
            seed=seed,
            sections=sections,
            memory_budget=memory_budget,
            chunk_rows=chunk_rows,
            unfitted=_nothing_to_estimate(current, schema, sections, plan),
        )

    current_side = CurrentSide(
        reference_side, sample_rows=sample_rows, stream_rows=stream_rows, seed=seed + 1
    )
    from modelmon.engine.column_passes import by_columns, profile_current_by_columns

    subsets = by_columns(current, schema, reference_side.sections, plan)
    if subsets is not None:  # row groups larger than a chunk, and no section reads whole rows
        profile_current_by_columns(current_side, current, subsets, plan)
        note_unexpected_columns(current_side.profile, current, schema)
        return current_side.report(drift=drift, model=model, sections=sections)
    total = total_rows(current) if progress else None
    with _progress(total is not None and total > (chunk_rows or 200_000)) as bar:
        task = bar.add_task("profile", total=total) if bar is not None else None
        for chunk in plan.chunks_ahead(current, wanted_columns(schema)):
            current_side.update(chunk)
            if bar is not None:
                bar.advance(task, len(chunk))
    note_unexpected_columns(current_side.profile, current, schema)
    return current_side.report(drift=drift, model=model, sections=sections)
