"""Profiles: compact, mergeable summaries of rows for one model's schema.

A :class:`ProfileSpec` is fitted once on the reference dataset: it fixes the cell edges of every
numerical column and the known categories of every categorical column. Any number of frames or
chunks can then be profiled against it; profiles add up (``a + b`` is the profile of the rows of
both), serialize to JSON and back, and never hold raw rows. Batch reports, online windows and
distributed runs are all built from them.

>>> import pandas as pd
>>> from modelmon.schema import Schema
>>> schema = Schema(numerical=["distance"], categorical=["zone"])
>>> reference = pd.DataFrame({"distance": [1.0, 2.0, 2.5, 4.0], "zone": ["a", "b", "a", "c"]})
>>> spec = ProfileSpec.fit(reference, schema)
>>> first = spec.profile(pd.DataFrame({"distance": [1.0, 9.0], "zone": ["a", "z"]}))
>>> second = spec.profile(pd.DataFrame({"distance": [None], "zone": ["b"]}))
>>> total = first + second
>>> total.rows, total.columns["distance"].missing, total.columns["zone"].new_count
(3, 1, 1)
>>> Profile.from_dict(total.to_dict(), spec) == total
True
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelmon.engine.category_counts import DEFAULT_MAX_CATEGORIES, CategoryTail
from modelmon.engine.cells import EdgeLookup
from modelmon.engine.columns import (
    CategoricalColumn,
    NumericalColumn,
    category_labels,
    numeric_values,
    ranked_labels,
    sum_all,
)
from modelmon.errors import SchemaError
from modelmon.schema import Schema

__all__ = ["DEFAULT_MAX_BINS", "DEFAULT_MAX_CATEGORIES", "Profile", "ProfileSpec"]

#: numerical columns with more unique reference values than this get quantile edges
DEFAULT_MAX_BINS = 1000

Column = NumericalColumn | CategoricalColumn


def _edges(values: np.ndarray, max_bins: int) -> tuple[np.ndarray, bool]:
    """Reference unique values when there are at most ``max_bins``, otherwise quantile edges."""
    return _edges_of_sorted(np.sort(values), max_bins)


def _edges_of_sorted(ordered: np.ndarray, max_bins: int) -> tuple[np.ndarray, bool]:
    if len(ordered) == 0:
        return np.array([0.0]), True
    distinct = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    if distinct.sum() <= max_bins:
        return ordered[distinct], True
    positions = np.linspace(0, len(ordered) - 1, max_bins + 1).round().astype(np.int64)
    return np.unique(ordered[positions]), False


def _numbers(chunks: Sequence[pd.DataFrame], name: str) -> tuple[np.ndarray, int, int]:
    """:func:`numeric_values` of column ``name`` over all ``chunks``."""
    if len(chunks) == 1:
        return numeric_values(chunks[0][name])
    pieces = [numeric_values(chunk[name]) for chunk in chunks]
    values = np.concatenate([piece[0] for piece in pieces])
    return values, sum(piece[1] for piece in pieces), sum(piece[2] for piece in pieces)


#: numerical reference columns of at least this many values choose their edges from a sample
#: (drawn with a fixed seed, :func:`edge_sample_size`) instead of sorting every value
EDGE_SAMPLE = 100_000
#: sampled quantile edges keep at least this many sampled values a cell
MIN_CELL_SAMPLE = 20


def edge_sample_size(values: int, max_bins: int = DEFAULT_MAX_BINS) -> int | None:
    """How many of a numerical reference column's ``values`` its quantile edges are chosen from,
    or ``None`` when all are sorted.

    Sorting a column costs more than counting its values into fixed cells, so a
    column of at least :data:`EDGE_SAMPLE` values takes its edges from a fifth of them (at least
    :data:`MIN_CELL_SAMPLE` sampled values a cell) and is then counted cell by cell; past twice
    :data:`EDGE_SAMPLE`, from :data:`EDGE_SAMPLE` of them. Smaller columns are sorted whole.

    >>> [edge_sample_size(rows) for rows in (50_000, 100_000, 150_000, 10**6)]
    [None, 20000, 30000, 100000]
    """
    if values > 2 * EDGE_SAMPLE:
        return EDGE_SAMPLE
    if values >= max(EDGE_SAMPLE, 5 * MIN_CELL_SAMPLE * max_bins):
        return values // 5
    return None


def _numerical_reference(
    values: np.ndarray, missing: int, type_errors: int, max_bins: int
) -> tuple[np.ndarray, bool, NumericalColumn, EdgeLookup | None]:
    """Edges of one reference column, whether they are exact, its profile and the lookup used.

    A large column takes its quantile edges from a sample, with its own minimum and maximum as the
    first and last edges, and is then counted cell by cell; with so many values each cell still
    holds about ``1 / max_bins`` of them. When the sample has at most ``max_bins`` distinct values,
    they are exact edges only if every value of the column is one of them; otherwise, or for a
    smaller column, the column is sorted and its edges read off the sort.
    """
    size = edge_sample_size(len(values), max_bins)
    if size is not None:
        sample = np.sort(values[np.random.default_rng(0).integers(0, len(values), size)])
        edges, exact = _edges_of_sorted(sample, max_bins)
        if not exact:
            edges[0], edges[-1] = values.min(), values.max()
        lookup = EdgeLookup(edges)
        column = NumericalColumn.from_values(edges, values, missing, type_errors, lookup)
        if not (exact and column.cell_counts[::2].any()):  # no value outside the sample's few
            return edges, exact, column, lookup
    ordered = np.sort(values)
    edges, exact = _edges_of_sorted(ordered, max_bins)
    return edges, exact, NumericalColumn.from_sorted(edges, ordered, missing, type_errors), None


#: frames with at least this many rows are profiled column by column on a few threads (numpy's
#: sorting and searching release the GIL, so columns run side by side)
PARALLEL_ROWS = 16_384
#: chunks profiled against a fitted spec use the threads from this many rows
PARALLEL_PROFILE_ROWS = 1 << 18
_POOL: ThreadPoolExecutor | None = None


def map_columns(function: Callable[[str], Any], names: Sequence[str], rows: int) -> list[Any]:
    """``function`` of each column name, on a few threads when each goes through many ``rows``
    (numpy's sorting and searching release the GIL)."""
    global _POOL
    if rows < PARALLEL_ROWS or len(names) < 2:
        return [function(name) for name in names]
    if _POOL is None:
        _POOL = ThreadPoolExecutor(
            max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="modelmon-profile"
        )
    return list(_POOL.map(function, names))


@dataclass
class ProfileSpec:
    """What the reference fixes for profiling: numerical edges and known categories per column.

    ``exact[column]`` is true when the edges are all the reference's unique values, so that
    statistics built from cumulative distributions (such as the KS statistic) are exact.
    """

    schema: Schema
    edges: dict[str, np.ndarray] = field(default_factory=dict)
    exact: dict[str, bool] = field(default_factory=dict)
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)
    truncated: dict[str, bool] = field(default_factory=dict)
    #: the reference categories beyond ``max_categories`` of each column that has more
    tails: dict[str, CategoryTail] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        reference: pd.DataFrame,
        schema: Schema,
        *,
        max_bins: int = DEFAULT_MAX_BINS,
        max_categories: int = DEFAULT_MAX_CATEGORIES,
        parts: Sequence[str] | None = None,
    ) -> ProfileSpec:
        """Fix edges and categories from the reference frame.

        ``parts`` names the model-level parts to fit (all registered ones by default; ``()`` for
        column summaries only, which is all the drift and quality sections read).
        """
        return cls._fit([reference], schema, max_bins, max_categories, parts)[0]

    @classmethod
    def fit_profile(
        cls,
        reference: pd.DataFrame | Sequence[pd.DataFrame],
        schema: Schema,
        *,
        max_bins: int = DEFAULT_MAX_BINS,
        max_categories: int = DEFAULT_MAX_CATEGORIES,
        parts: Sequence[str] | None = None,
    ) -> tuple[ProfileSpec, Profile]:
        """The spec and the reference's own profile, counted while choosing the edges.

        ``reference`` may be the frame's chunks (a reference held in memory as it was read): they
        are fitted as their concatenation would be, without copying them into one frame.
        """
        chunks = [reference] if isinstance(reference, pd.DataFrame) else list(reference)
        spec, reference_columns, whole = cls._fit(chunks, schema, max_bins, max_categories, parts)
        if whole is not None:
            return spec, spec._profile(whole, reference_columns)
        # column summaries only: rows, absent and unexpected columns chunk by chunk
        empty = spec.empty().columns
        total = Profile.total(spec, [spec._profile(chunk, empty) for chunk in chunks])
        total.columns = {name: reference_columns.get(name, column) for name, column in total.columns.items()}
        return spec, total

    @classmethod
    def _fit(
        cls,
        chunks: Sequence[pd.DataFrame],
        schema: Schema,
        max_bins: int,
        max_categories: int,
        parts: Sequence[str] | None,
    ) -> tuple[ProfileSpec, dict[str, Column], pd.DataFrame | None]:
        """The spec, the reference's column summaries and the whole reference as one frame: the
        only chunk, or the chunks joined when model-level parts were fitted on them (else ``None``)."""
        columns = chunks[0].columns
        missing = [name for name in schema.monitored_columns if name not in columns]
        required_missing = [name for name in missing if name != schema.target]
        if required_missing:
            raise SchemaError(
                f"the reference has no column(s) {required_missing}; it has {list(map(str, columns))}"
            )
        spec = cls(schema)
        present = [name for name in schema.monitored_columns if name in columns]
        lookups = spec._lookups()

        def summarise(name: str) -> Column:
            if schema.kind(name) == "numerical":
                edges, exact, column, lookup = _numerical_reference(*_numbers(chunks, name), max_bins)
                spec.edges[name], spec.exact[name] = edges, exact
                if lookup is not None:
                    lookups[name] = lookup
                return column
            series = chunks[0][name] if len(chunks) == 1 else pd.concat([c[name] for c in chunks])
            codes, labels, missing_count = category_labels(series)
            ranked = ranked_labels(codes, labels)
            spec.categories[name] = tuple(ranked[:max_categories])
            spec.truncated[name] = len(ranked) > max_categories
            if spec.truncated[name]:
                spec.tails[name] = CategoryTail.of(ranked[max_categories:])
            return CategoricalColumn.from_codes(
                spec.categories[name], codes, labels, missing_count, tail=spec.tails.get(name)
            )

        # each column writes only its own keys of the spec's dicts, so the threads do not collide
        rows = sum(len(chunk) for chunk in chunks)
        summaries = dict(zip(present, map_columns(summarise, present, rows), strict=True))
        # the spec's dicts in schema order whatever order the threads finished in
        spec.edges = {name: spec.edges[name] for name in present if name in spec.edges}
        spec.exact = {name: spec.exact[name] for name in present if name in spec.exact}
        spec.categories = {name: spec.categories[name] for name in present if name in spec.categories}
        spec.truncated = {name: spec.truncated[name] for name in present if name in spec.truncated}
        spec.tails = {name: spec.tails[name] for name in present if name in spec.tails}
        single = chunks[0] if len(chunks) == 1 else None
        if parts is not None and not parts:
            return (
                spec,
                summaries,
                single,
            )  # column summaries only: the part modules (and sklearn) stay unloaded
        from modelmon.engine.parts import PART_TYPES

        # the parts are fitted on whole rows: the chunks joined (a copy) only when some are wanted
        reference = single if single is not None else pd.concat(chunks, ignore_index=True)
        for part_name, part_type in PART_TYPES.items():
            if parts is not None and part_name not in parts:
                continue
            state = part_type.fit(reference, spec)
            if state is not None:
                spec.state[part_name] = state
        return spec, summaries, reference

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the ``_`` caches of ``state`` (lookup tables, about 0.6 MB a column)."""
        data = dict(self.__dict__)
        data["state"] = {key: value for key, value in self.state.items() if not key.startswith("_")}
        return data

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(
            name for name in self.schema.monitored_columns if name in self.edges or name in self.categories
        )

    @property
    def fingerprint(self) -> str:
        """A short hash of the edges and categories; profiles add only when these agree."""
        digest = hashlib.sha1()
        for name in self.columns:
            digest.update(name.encode())
            if name in self.edges:
                digest.update(self.edges[name].tobytes())
            else:
                digest.update("\x1f".join(self.categories[name]).encode())
            if name in self.tails:
                digest.update(self.tails[name].hashes.tobytes())
        return digest.hexdigest()[:16]

    def empty(self) -> Profile:
        """The profile of no rows (the identity of ``+``)."""
        columns: dict[str, Column] = {}
        for name in self.columns:
            if name in self.edges:
                columns[name] = NumericalColumn.empty(self.edges[name])
            else:
                columns[name] = CategoricalColumn.empty(self.categories[name], self.tails.get(name))
        return Profile(self, 0, columns)

    def assemble(self, rows: int, columns: dict[str, Column]) -> Profile:
        """The profile of ``rows`` rows with column summaries built elsewhere (a segment's rows,
        summed by a part): parts build profiles through their spec, so they never import this module."""
        return Profile(self, rows, columns)

    def profile(self, frame: pd.DataFrame, parts: Collection[str] | None = None) -> Profile:
        """Profile one frame or chunk; schema columns missing from it are recorded, not fatal.

        ``parts`` names the model-level parts to build (every fitted one by default), for a caller
        that reads only some of them.
        """
        return self._profile(frame, {}, parts)

    def column_summary(self, frame: pd.DataFrame, name: str) -> Column:
        """The summary of one profiled column of ``frame`` (per-segment parts build theirs with it)."""
        return self._column(frame, name, {})

    def _lookups(self) -> dict[str, EdgeLookup]:
        """The cached lookup of each numerical column (a ``_`` key of ``state``: not pickled)."""
        lookups: dict[str, EdgeLookup] = self.state.setdefault("_edge_lookups", {})
        return lookups

    def _lookup(self, name: str) -> EdgeLookup:
        lookups = self._lookups()
        if name not in lookups:
            lookups[name] = EdgeLookup(self.edges[name])
        return lookups[name]

    def _column(self, frame: pd.DataFrame, name: str, ready: Mapping[str, Column]) -> Column:
        if name in ready:
            return ready[name]
        if name not in frame.columns:
            if name in self.edges:
                return NumericalColumn.empty(self.edges[name])
            return CategoricalColumn.empty(self.categories[name], self.tails.get(name))
        if name in self.edges:
            return NumericalColumn.from_series(self.edges[name], frame[name], self._lookup(name))
        return CategoricalColumn.from_series(
            self.categories[name], frame[name], self._index(name), self.tails.get(name)
        )

    def _profile(
        self, frame: pd.DataFrame, ready: Mapping[str, Column], wanted: Collection[str] | None = None
    ) -> Profile:
        """The profile of ``frame``, taking the columns in ``ready`` as they are."""
        names = list(self.columns)
        for name in names:  # build shared lookups before the threads use them
            if name in ready or name not in frame.columns:
                continue
            if name in self.edges:
                self._lookup(name)
            else:
                self._index(name)
        # a chunk of few rows is counted one column after another: its numpy calls (bincount,
        # gathers) hold the GIL on arrays that fit a cache, so threads only contend for it
        # (``python -m bench.scale``: a 42k-row chunk of 200 columns took 0.18 s on two threads,
        # 0.13 s on one); a chunk of many rows (1M x 20: 419k rows) gains from them
        rows = len(frame) if len(frame) >= PARALLEL_PROFILE_ROWS else 0
        built = map_columns(lambda name: self._column(frame, name, ready), names, rows)
        columns: dict[str, Column] = dict(zip(names, built, strict=True))
        absent = [name for name in names if name not in frame.columns]
        parts = {}
        if any(not key.startswith("_") for key in self.state):  # "_" keys are caches, not parts
            from modelmon.engine.parts import PART_TYPES

            for part_name, part_type in PART_TYPES.items():
                if part_name in self.state and (wanted is None or part_name in wanted):
                    part = part_type.build(frame, self)
                    if part is not None:
                        parts[part_name] = part
        return Profile(
            self,
            len(frame),
            columns,
            absent_columns=absent,
            unexpected_columns=self._unexpected(frame),
            parts=parts,
        )

    def profile_chunks(self, chunks: Iterable[pd.DataFrame]) -> Profile:
        """Profile chunk by chunk, so memory does not grow with the number of rows."""
        total = self.empty()
        for chunk in chunks:
            total = total + self.profile(chunk)
        return total

    def _index(self, name: str) -> pd.Index:
        cache: dict[str, pd.Index] = self.state.setdefault("_category_index", {})
        if name not in cache:
            cache[name] = pd.Index(self.categories[name], dtype=object)
        return cache[name]

    def _unexpected(self, frame: pd.DataFrame) -> list[str]:
        known = set(self.schema.named_columns)
        # attributions sent with events arrive as attr_<feature> columns; they are not data columns
        return [
            str(name)
            for name in frame.columns
            if name not in known and name != "attributions" and not str(name).startswith("attr_")
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema.to_dict(),
            "edges": {name: edges.tolist() for name, edges in self.edges.items()},
            "exact": dict(self.exact),
            "categories": {name: list(values) for name, values in self.categories.items()},
            "truncated": dict(self.truncated),
            "tails": {name: tail.to_dict() for name, tail in self.tails.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProfileSpec:
        return cls(
            Schema.from_dict({key: value for key, value in data["schema"].items() if key != "extra"}),
            {name: np.asarray(edges, dtype=np.float64) for name, edges in data["edges"].items()},
            dict(data["exact"]),
            {name: tuple(values) for name, values in data["categories"].items()},
            dict(data["truncated"]),
            {name: CategoryTail.from_dict(tail) for name, tail in data.get("tails", {}).items()},
        )


@dataclass
class Profile:
    """The mergeable summary of some rows, profiled against a :class:`ProfileSpec`."""

    spec: ProfileSpec
    rows: int
    columns: dict[str, Column]
    absent_columns: list[str] = field(default_factory=list)
    unexpected_columns: list[str] = field(default_factory=list)
    parts: dict[str, Any] = field(default_factory=dict)

    def __add__(self, other: Profile) -> Profile:
        if not isinstance(other, Profile):
            return NotImplemented
        if other.spec is not self.spec and other.spec.fingerprint != self.spec.fingerprint:
            raise SchemaError("profiles built against different reference specs cannot be added")
        parts = dict(self.parts)
        for name, part in other.parts.items():
            parts[name] = parts[name] + part if name in parts else part
        return Profile(
            self.spec,
            self.rows + other.rows,
            {name: self.columns[name] + other.columns[name] for name in self.columns},  # type: ignore[operator]
            absent_columns=sorted(set(self.absent_columns) | set(other.absent_columns)),
            unexpected_columns=sorted(set(self.unexpected_columns) | set(other.unexpected_columns)),
            parts=parts,
        )

    @classmethod
    def total(cls, spec: ProfileSpec, profiles: Sequence[Profile]) -> Profile:
        """The sum of many profiles (``spec.empty()`` for none), as ``+`` gives it; a column or part
        whose type has a ``total`` of its own (summing many at once is cheaper than in pairs) uses it."""
        if not profiles:
            return spec.empty()
        for profile in profiles:
            if profile.spec is not spec and profile.spec.fingerprint != spec.fingerprint:
                raise SchemaError("profiles built against different reference specs cannot be added")
        columns = {name: sum_all([p.columns[name] for p in profiles]) for name in profiles[0].columns}
        named: dict[str, list[Any]] = {}
        for profile in profiles:
            for name, part in profile.parts.items():
                named.setdefault(name, []).append(part)
        parts = {name: sum_all(values) for name, values in named.items()}
        return Profile(
            spec,
            sum(profile.rows for profile in profiles),
            columns,
            absent_columns=sorted({name for profile in profiles for name in profile.absent_columns}),
            unexpected_columns=sorted({name for profile in profiles for name in profile.unexpected_columns}),
            parts=parts,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Profile):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (the spec is stored once, separately)."""
        return {
            "fingerprint": self.spec.fingerprint,
            "rows": self.rows,
            "columns": {name: column.to_dict() for name, column in self.columns.items()},
            "absent_columns": list(self.absent_columns),
            "unexpected_columns": list(self.unexpected_columns),
            "parts": {name: part.to_dict() for name, part in self.parts.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], spec: ProfileSpec) -> Profile:
        if data["fingerprint"] != spec.fingerprint:
            raise SchemaError("this profile was built against a different reference spec")
        from modelmon.engine.parts import PART_TYPES

        columns: dict[str, Column] = {}
        for name, column in data["columns"].items():
            if column["kind"] == "numerical":
                columns[name] = NumericalColumn.from_dict(column, spec.edges[name])
            else:
                columns[name] = CategoricalColumn.from_dict(
                    column, spec.categories[name], spec.tails.get(name)
                )
        parts = {name: PART_TYPES[name].from_dict(part) for name, part in data.get("parts", {}).items()}
        return cls(
            spec,
            int(data["rows"]),
            columns,
            list(data["absent_columns"]),
            list(data["unexpected_columns"]),
            parts,
        )
