"""The report builder: profile a reference and a current dataset, then run every report section.

Both sides are read in chunks sized by a memory budget in bytes (``memory_budget``, 256 MiB by
default; see :mod:`modelmon.io`), so memory does not grow with the rows of either. The reference
is read twice: once to fit the spec (edges from its distinct values or from a bounded sample of
its rows, see :mod:`modelmon.engine.fitting`), once to profile it against that spec; a reference
that fits in one chunk is read once. Besides the two profiles the builder keeps, in bounded
memory: a uniform sample of rows of each dataset (for sections that need raw rows), the current
(timestamp, prediction, target, probabilities) stream in time order, and one 64-bit hash per
current row to count duplicate rows (8 bytes per row, 16 while counting at the end). What is kept
depends on row positions only, so sides fed partitions on several processes add up to the side
of one process (:mod:`modelmon.distributed`). To compare many current datasets with one reference
(batch runs, backfills), fit a :class:`ReferenceSide` once and feed each dataset to a
:class:`CurrentSide`.

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

import copy
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelmon.config import DriftSettings
from modelmon.engine.columns import CategoricalColumn, NumericalColumn
from modelmon.engine.profile import Profile, ProfileSpec
from modelmon.engine.report import ReportInputs, not_applicable
from modelmon.engine.streaming import PrioritySample, StrideSample
from modelmon.reading.plan import Data, ReadPlan, exact_rows, load_model, total_rows
from modelmon.schema import Schema
from modelmon.sections import run_sections
from modelmon.sizes import DEFAULT_MEMORY_BUDGET

__all__ = [
    "CurrentSide",
    "DuplicateCounter",
    "ReferenceSide",
    "Report",
    "build_report",
    "column_distributions",
]

#: display bins of the numerical distributions in the report
DISPLAY_BINS = 30
#: categories drawn by name in the report; the rest are summed as "(other)" (not "other": a real value)
DISPLAY_CATEGORIES = 20


class DuplicateCounter:
    """Counts rows identical (over ``columns``) to an earlier row, with one uint64 hash per row.

    Numbers are hashed as float64 so that a column read as integers in one chunk and as floats in
    another (a CSV chunk with a missing value) hashes alike. Two different rows share a hash with
    probability about ``rows**2 / 2**65`` (below 3e-6 at ten million rows).
    """

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self._hashes: list[np.ndarray] = []

    def update(self, chunk: pd.DataFrame) -> None:
        present = [name for name in self.columns if name in chunk.columns]
        # strings hash alike as object, str or category dtype; converting them would cost more than hashing
        frame = pd.DataFrame(
            {
                name: chunk[name].astype("float64")
                if pd.api.types.is_numeric_dtype(chunk[name]) and not pd.api.types.is_bool_dtype(chunk[name])
                else chunk[name]
                for name in present
            }
        )
        self._hashes.append(pd.util.hash_pandas_object(frame, index=False).to_numpy(np.uint64))

    def __add__(self, other: DuplicateCounter) -> DuplicateCounter:
        total = DuplicateCounter(self.columns)
        total._hashes = [*self._hashes, *other._hashes]
        return total

    def result(self) -> dict[str, int]:
        hashes = np.concatenate(self._hashes) if self._hashes else np.empty(0, np.uint64)
        self._hashes = [hashes]  # one array from now on: 8 bytes per row, not 16
        ordered = np.sort(hashes)
        return {"rows": len(hashes), "duplicated": int(np.count_nonzero(ordered[1:] == ordered[:-1]))}


@dataclass
class Report:
    """A finished report: plain data, written as JSON or as one self-contained HTML file."""

    sections: dict[str, Any]
    reference_rows: int
    current_rows: int
    schema: Schema
    distributions: dict[str, Any] = field(default_factory=dict)
    generated_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    reference_profile: Profile | None = field(default=None, repr=False, compare=False)
    current_profile: Profile | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Every key of the report JSON; sections that are not available say why."""
        from modelmon import __version__

        data: dict[str, Any] = {
            "modelmon_version": __version__,
            "generated_at": self.generated_at,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "schema": self.schema.to_dict(),
        }
        from modelmon.engine.sections import section_names

        # every registered section has its key, in order; one not run says why
        for key in section_names():
            if key in self.sections:
                data[key] = self.sections[key]
            else:
                data[key] = not_applicable(f"the {key} section was not requested for this report")
        data.update({key: value for key, value in self.sections.items() if key not in data})
        data["distributions"] = self.distributions
        return data

    def save_json(self, path: str | os.PathLike[str]) -> Path:
        from modelmon.render.json import write_json

        return write_json(path, self.to_dict())

    def save_html(self, path: str | os.PathLike[str]) -> Path:
        from modelmon.render.html import write_html

        return write_html(path, self.to_dict())

    def to_frame(self, section: str = "drift") -> pd.DataFrame:
        """The ``drift`` or ``quality`` table, one row per column (see :mod:`modelmon.render.notebook`)."""
        from modelmon.render.notebook import column_frame

        return column_frame(self.sections, section)

    def _repr_html_(self) -> str:
        """The page of :meth:`save_html`, shown in a notebook cell."""
        from modelmon.render.html import render_html
        from modelmon.render.notebook import cell_html

        return cell_html(render_html(self.to_dict()))


def _numerical_distribution(reference: NumericalColumn, current: NumericalColumn) -> dict[str, Any] | None:
    if not (reference.count or current.count):
        return None
    low = min(reference.min, current.min)
    high = max(reference.max, current.max)
    if high <= low:
        high = low + 1.0
    bins = np.linspace(low, high, DISPLAY_BINS + 1)

    def shares(column: NumericalColumn) -> list[float]:
        filled = column.cell_counts > 0
        # each cell's mass is drawn at the mean of its values (exactly the edge for an edge cell)
        where = column.cell_sums[filled] / column.cell_counts[filled]
        counts, _ = np.histogram(np.clip(where, low, high), bins=bins, weights=column.cell_counts[filled])
        return (counts / column.count).tolist() if column.count else [0.0] * DISPLAY_BINS

    return {
        "kind": "numerical",
        "bins": bins.tolist(),
        "reference": shares(reference),
        "current": shares(current),
    }


def _categorical_distribution(reference: CategoricalColumn, current: CategoricalColumn) -> dict[str, Any]:
    names = list(reference.values)
    totals = {name: int(reference.counts[i] + current.counts[i]) for i, name in enumerate(names)}
    totals.update({name: totals.get(name, 0) + count for name, count in current.unseen.items()})
    shown = sorted(totals, key=lambda name: (-totals[name], name))[:DISPLAY_CATEGORIES]

    def shares(column: CategoricalColumn) -> list[float]:
        index = {name: i for i, name in enumerate(column.values)}
        counts = [
            int(column.counts[index[name]]) if name in index else column.unseen.get(name, 0) for name in shown
        ]
        counts.append(column.count - sum(counts))
        return [count / column.count if column.count else 0.0 for count in counts]

    return {
        "kind": "categorical",
        "labels": [*shown, "(other)"],
        "reference": shares(reference),
        "current": shares(current),
    }


def column_distributions(reference: Profile, current: Profile) -> dict[str, Any]:
    """Reference and current shares per column, aggregated from the profile cells for drawing."""
    result: dict[str, Any] = {}
    for name, column in reference.columns.items():
        other = current.columns[name]
        if isinstance(column, NumericalColumn) and isinstance(other, NumericalColumn):
            drawn = _numerical_distribution(column, other)
        elif isinstance(column, CategoricalColumn) and isinstance(other, CategoricalColumn):
            drawn = _categorical_distribution(column, other)
        else:
            drawn = None
        if drawn is not None:
            result[name] = drawn
    return result


def wanted_columns(schema: Schema) -> list[str]:
    """Columns a report reads: every column the schema names."""
    return list(schema.named_columns)


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


def _tuple(sections: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if sections is None else tuple(sections)


def reference_sketch(
    schema: Schema, memory_budget: int = DEFAULT_MEMORY_BUDGET, total_rows: int | None = None
) -> Any:
    """The :class:`~modelmon.engine.fitting.ReferenceSketch` a reference is fitted with under a budget
    (``total_rows``: the reference's rows, when known, so that its sample copies only what it keeps)."""
    from modelmon.engine.fitting import ReferenceSketch, sample_rows_for

    numerical = [name for name in schema.monitored_columns if schema.kind(name) == "numerical"]
    return ReferenceSketch(
        schema,
        sample_rows=sample_rows_for(len(numerical), memory_budget),
        columns=wanted_columns(schema),
        total_rows=total_rows,
    )


def _counts_duplicates(sections: Sequence[str] | None) -> bool:
    """Whether ``sections`` (``None``: all) need duplicate rows counted: only the quality section does."""
    return sections is None or "quality" in sections


@dataclass
class ReferenceSide:
    """What a report needs of the reference, computed once: the fitted spec, the reference's profile,
    a bounded sample of its rows and its share of duplicate rows. Fit it once and reuse it for many
    current datasets (the batch flow does)."""

    spec: ProfileSpec
    profile: Profile
    #: ``None`` when fitted for sections that read no raw rows
    sample: pd.DataFrame | None
    duplicate_share: float | None = None
    #: the sections it was fitted for (``None``: all); current data fed against it serves those
    sections: tuple[str, ...] | None = None

    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame,
        schema: Schema,
        *,
        sample_rows: int = 5_000,
        seed: int = 0,
        sections: Sequence[str] | None = None,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
    ) -> ReferenceSide:
        """Fit on the reference frame, for every section or only for ``sections``.

        Only the profile parts the sections read are fitted, a sample of rows is kept only for
        sections that read rows, and duplicate rows are counted only for the quality section.
        """
        return cls.fit_chunks(
            lambda: ReadPlan(memory_budget).chunks(frame),
            schema,
            sample_rows=sample_rows,
            seed=seed,
            sections=sections,
            memory_budget=memory_budget,
            in_memory=fits_in_memory(reference_bytes(frame, None), memory_budget, sections),
        )

    @classmethod
    def fit_chunks(
        cls,
        chunks: Callable[[], Iterable[pd.DataFrame]],
        schema: Schema,
        *,
        sample_rows: int = 5_000,
        seed: int = 0,
        sections: Sequence[str] | None = None,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        total_rows: int | None = None,
        in_memory: bool = False,
    ) -> ReferenceSide:
        """Fit on the reference's chunks.

        ``in_memory`` (the reference fits in memory, :func:`fits_in_memory`): ``chunks()`` is read
        once, held, and fitted as :meth:`ProfileSpec.fit_profile` fits a frame. Otherwise it is read
        twice in bounded memory: once to sketch the spec (:class:`ReferenceSketch`), once to profile
        the reference against it; ``total_rows`` (the reference's rows, when known) lets the sketch's
        sample copy only what it keeps.
        """
        from modelmon.engine.sections import parts_for

        parts = parts_for(sections)
        profile: Profile | None = None
        if in_memory:
            held = list(chunks())
            spec, profile = ProfileSpec.fit_profile(held, schema, parts=parts)
        else:
            sketch = reference_sketch(schema, memory_budget, total_rows)
            for chunk in chunks():
                sketch.update(chunk)
            spec = sketch.spec(parts)
            del sketch
        side = CurrentSide(cls.unprofiled(spec, sections), sample_rows=sample_rows, stream_rows=1, seed=seed)
        if profile is None:
            for chunk in chunks():
                side.update(chunk)
        else:
            for chunk in held:
                side.keep_rows(chunk)
            side.profile = profile
        return side.as_reference()

    @classmethod
    def unprofiled(cls, spec: ProfileSpec, sections: Sequence[str] | None = None) -> ReferenceSide:
        """A side with ``spec`` and nothing profiled yet: what the reference's own chunks are fed against."""
        from modelmon.engine.sections import reads_rows

        # embedding sets are tested on rows, so the drift section needs them when the schema has any
        embeddings = bool(spec.schema.embeddings) and (sections is None or "drift" in sections)
        keeps_rows = reads_rows(sections) or embeddings
        return cls(spec, spec.empty(), pd.DataFrame() if keeps_rows else None, None, _tuple(sections))

    @property
    def schema(self) -> Schema:
        return self.spec.schema


class CurrentSide:
    """The current data fed chunk by chunk: its profile, a row sample, the time-ordered stream of
    (timestamp, prediction, probabilities, target) and the duplicate-row hashes, all bounded except
    the hashes (8 bytes per row). :meth:`report` runs the sections.

    >>> import pandas as pd
    >>> reference = ReferenceSide.fit(pd.DataFrame({"x": [1.0, 2.0, 3.0] * 10}), Schema(numerical=["x"]))
    >>> current = CurrentSide(reference)
    >>> for chunk in (pd.DataFrame({"x": [1.0, 9.0]}), pd.DataFrame({"x": [1.0, None]})):
    ...     current.update(chunk)
    >>> quality = current.report(sections=("quality",)).sections["quality"]
    >>> quality["columns"]["x"]["out_of_range_share"], quality["duplicates"]["duplicated"]
    (0.3333333333333333, 1)
    """

    def __init__(
        self, reference: ReferenceSide, *, sample_rows: int = 5_000, stream_rows: int = 20_000, seed: int = 1
    ) -> None:
        schema = reference.schema
        self.reference = reference
        self.profile = reference.spec.empty()
        self.settings = {"sample_rows": sample_rows, "stream_rows": stream_rows, "seed": seed}
        keep_rows = reference.sample is not None
        self.sample = (
            PrioritySample(sample_rows, seed=seed, columns=wanted_columns(schema)) if keep_rows else None
        )
        stream_columns = [schema.timestamp, schema.prediction, *schema.probabilities, schema.target]
        self.stream = StrideSample(stream_rows, [name for name in stream_columns if name], schema.timestamp)
        counting = _counts_duplicates(reference.sections)
        self.duplicates = DuplicateCounter(schema.monitored_columns) if counting else None
        self._next_row = 0

    @property
    def rows(self) -> int:
        return self.profile.rows

    def update(self, chunk: pd.DataFrame, first_row: int | None = None) -> None:
        """Add one chunk (columns named as in the schema); ``first_row`` is the position of its first
        row in the whole dataset (by default, right after the chunks fed before)."""
        self.profile = self.profile + self.reference.spec.profile(chunk)
        self.keep_rows(chunk, first_row)

    def keep_rows(self, chunk: pd.DataFrame, first_row: int | None = None) -> None:
        """What :meth:`update` keeps of a chunk's rows (sample, stream, duplicates), without
        profiling it: for a caller that profiles the rows itself."""
        first = self._next_row if first_row is None else first_row
        self._next_row = first + len(chunk)
        if self.sample is not None:
            self.sample.update(chunk, first)
        self.stream.update(chunk, first)
        if self.duplicates is not None:
            self.duplicates.update(chunk)

    def __add__(self, other: CurrentSide) -> CurrentSide:
        """The side of the rows of both (partitions of one dataset, each fed at its own positions)."""
        if not isinstance(other, CurrentSide) or other.settings != self.settings:
            return NotImplemented
        total = copy.copy(self)  # a subclass's own attributes come along
        total.profile = self.profile + other.profile
        total.sample = (
            self.sample + other.sample if self.sample is not None and other.sample is not None else None
        )
        total.stream = self.stream + other.stream
        duplicates = self.duplicates
        total.duplicates = (
            duplicates + other.duplicates if duplicates is not None and other.duplicates is not None else None
        )
        total._next_row = max(self._next_row, other._next_row)
        return total

    def as_reference(self) -> ReferenceSide:
        """What was fed, as the reference side of later reports (the spec's own reference rows)."""
        share = None
        if self.duplicates is not None:
            counts = self.duplicates.result()
            share = counts["duplicated"] / counts["rows"] if counts["rows"] else None
        sample = self.sample.frame() if self.sample is not None else None
        return ReferenceSide(self.reference.spec, self.profile, sample, share, self.reference.sections)

    def _duplicates(self) -> dict[str, Any]:
        """The quality section's duplicate counts, when they were counted."""
        if self.duplicates is None:
            return {}
        counts = self.duplicates.result()
        return {"duplicates": {**counts, "reference_share": self.reference.duplicate_share}}

    def report(
        self,
        *,
        drift: DriftSettings | None = None,
        model: Any = None,
        sections: Sequence[str] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Report:
        """Run the sections (all, or ``sections``) over the reference and what was fed so far."""
        reference = self.reference
        inputs = ReportInputs(
            reference=reference.profile,
            current=self.profile,
            reference_sample=reference.sample,
            current_sample=self.sample.frame() if self.sample is not None else None,
            current_stream=self.stream.frame() if self.stream.columns else None,
            drift=drift or DriftSettings(),
            model=load_model(model),
            options={**self._duplicates(), **(options or {})},
        )
        return Report(
            sections=run_sections(inputs, only=tuple(sections) if sections is not None else None),
            reference_rows=reference.profile.rows,
            current_rows=self.profile.rows,
            schema=reference.schema,
            distributions=column_distributions(reference.profile, self.profile),
            reference_profile=reference.profile,
            current_profile=self.profile,
        )


def note_unexpected_columns(profile: Profile, data: Data, schema: Schema) -> None:
    """Record in ``profile`` the columns of file ``data`` that the schema does not name (it read
    only the named ones); a frame's chunks recorded theirs as they were profiled."""
    if not isinstance(data, pd.DataFrame):
        from modelmon.io import file_columns

        profile.unexpected_columns = schema.check(file_columns(data))["unexpected"]


def reference_bytes(data: Data, columns: list[str] | None) -> float:
    """Bytes the reference's ``columns`` (``None``: all) take once read: a frame's own, a file's
    estimated from its rows and columns (:func:`~modelmon.io.row_bytes`)."""
    from modelmon.io import frame_row_bytes, row_bytes

    if isinstance(data, pd.DataFrame):
        return frame_row_bytes(data) * len(data)
    return row_bytes(data, columns) * total_rows(data)


def fits_in_memory(size: float, memory_budget: int, sections: Sequence[str] | None) -> bool:
    """Whether a reference of ``size`` bytes is held and fitted in memory rather than sketched.

    It may take three quarters of the budget (the rest is the work on it), half of that when the
    sections read model-level parts, which are fitted on the reference's rows joined into one frame.
    """
    from modelmon.engine.sections import parts_for

    parts = parts_for(sections)
    share = 3 / 4 if parts is not None and not parts else 3 / 8
    return size <= memory_budget * share


def fit_reference(
    reference: Data,
    schema: Schema,
    *,
    sample_rows: int = 5_000,
    seed: int = 0,
    sections: Sequence[str] | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    chunk_rows: int | None = None,
) -> ReferenceSide:
    """The reference side of a report on ``reference`` (a frame or a parquet/CSV path): held and
    fitted in memory when it fits (:func:`fits_in_memory`), else sketched and profiled in chunks."""
    from modelmon.engine.column_passes import by_columns, fit_reference_by_columns

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
    )
    note_unexpected_columns(side.profile, reference, schema)
    return side


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
