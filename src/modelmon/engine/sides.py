"""The two sides of a report, fed chunk by chunk: :class:`ReferenceSide` (fitted once, reusable for
many current datasets) and :class:`CurrentSide` (its profile, row sample, time-ordered stream and
duplicate-row hashes, all bounded but the hashes, 8 bytes a row). What a side keeps depends on row
positions only, so sides fed partitions on several processes add up to the side of one process
(:mod:`modelmon.engine.distributed`).

>>> import pandas as pd
>>> reference = ReferenceSide.fit(pd.DataFrame({"x": [1.0, 2.0, 3.0] * 10}), Schema(numerical=["x"]))
>>> current = CurrentSide(reference)
>>> current.update(pd.DataFrame({"x": [1.0, 9.0]}))
>>> current.rows, current.report(sections=("quality",)).current_rows
(2, 2)
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelmon.config import DriftSettings
from modelmon.engine.profile import Profile, ProfileSpec
from modelmon.engine.report import ReportInputs
from modelmon.engine.result import Report, column_distributions
from modelmon.engine.streaming import PrioritySample, StrideSample
from modelmon.reading.plan import Data, ReadPlan, load_model, total_rows
from modelmon.reading.sizes import DEFAULT_MEMORY_BUDGET
from modelmon.schema import Schema
from modelmon.sections import run_sections

__all__ = [
    "CurrentSide",
    "DuplicateCounter",
    "ReferenceSide",
    "fits_in_memory",
    "reference_bytes",
    "reference_sketch",
    "wanted_columns",
]


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


def wanted_columns(schema: Schema) -> list[str]:
    """Columns a report reads: every column the schema names."""
    return list(schema.named_columns)


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
        unfitted: Collection[str] = (),
    ) -> ReferenceSide:
        """Fit on the reference's chunks.

        ``in_memory`` (the reference fits in memory, :func:`fits_in_memory`): ``chunks()`` is read
        once, held, and fitted as :meth:`ProfileSpec.fit_profile` fits a frame. Otherwise it is read
        twice in bounded memory: once to sketch the spec (:class:`ReferenceSketch`), once to profile
        the reference against it; ``total_rows`` (the reference's rows, when known) lets the sketch's
        sample copy only what it keeps. The parts named in ``unfitted`` are not fitted (nothing of
        the current data will read them).
        """
        from modelmon.engine.sections import parts_for

        parts = parts_for(sections)
        if unfitted:
            from modelmon.engine.parts import PART_TYPES

            parts = tuple(name for name in (PART_TYPES if parts is None else parts) if name not in unfitted)
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


def reference_bytes(data: Data, columns: list[str] | None) -> float:
    """Bytes the reference's ``columns`` (``None``: all) take once read: a frame's own, a file's
    estimated from its rows and columns (:func:`~modelmon.reading.files.row_bytes`)."""
    from modelmon.reading.files import frame_row_bytes, row_bytes

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
