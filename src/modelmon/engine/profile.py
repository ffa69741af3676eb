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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelmon.engine.columns import CategoricalColumn, NumericalColumn, category_labels, numeric_values
from modelmon.errors import SchemaError
from modelmon.schema import Schema

__all__ = ["DEFAULT_MAX_BINS", "DEFAULT_MAX_CATEGORIES", "Profile", "ProfileSpec"]

#: numerical columns with more unique reference values than this get quantile edges
DEFAULT_MAX_BINS = 1000
#: categories kept by name; rarer reference values are merged into one "other" count
DEFAULT_MAX_CATEGORIES = 1000

Column = NumericalColumn | CategoricalColumn


def _edges(values: np.ndarray, max_bins: int) -> tuple[np.ndarray, bool]:
    """Reference unique values when there are at most ``max_bins``, otherwise quantile edges."""
    if len(values) == 0:
        return np.array([0.0]), True
    ordered = np.sort(values)
    distinct = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    if distinct.sum() <= max_bins:
        return ordered[distinct], True
    positions = np.linspace(0, len(ordered) - 1, max_bins + 1).round().astype(np.int64)
    return np.unique(ordered[positions]), False


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
    state: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        reference: pd.DataFrame,
        schema: Schema,
        *,
        max_bins: int = DEFAULT_MAX_BINS,
        max_categories: int = DEFAULT_MAX_CATEGORIES,
    ) -> ProfileSpec:
        """Fix edges and categories from the reference frame."""
        missing = [name for name in schema.monitored_columns if name not in reference.columns]
        required_missing = [name for name in missing if name != schema.target]
        if required_missing:
            raise SchemaError(
                f"the reference has no column(s) {required_missing}; "
                f"it has {list(map(str, reference.columns))}"
            )
        spec = cls(schema)
        for name in schema.monitored_columns:
            if name not in reference.columns:
                continue
            if schema.kind(name) == "numerical":
                values, _, _ = numeric_values(reference[name])
                spec.edges[name], spec.exact[name] = _edges(values, max_bins)
            else:
                codes, labels, _ = category_labels(reference[name])
                frequency = np.bincount(codes[codes >= 0], minlength=len(labels))
                order = sorted(range(len(labels)), key=lambda i: (-frequency[i], labels[i]))
                spec.categories[name] = tuple(labels[i] for i in order[:max_categories])
                spec.truncated[name] = len(labels) > max_categories
        from modelmon.engine.parts import PART_TYPES

        for part_name, part_type in PART_TYPES.items():
            state = part_type.fit(reference, spec)
            if state is not None:
                spec.state[part_name] = state
        return spec

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
        return digest.hexdigest()[:16]

    def empty(self) -> Profile:
        """The profile of no rows (the identity of ``+``)."""
        columns: dict[str, Column] = {}
        for name in self.columns:
            if name in self.edges:
                columns[name] = NumericalColumn.empty(self.edges[name])
            else:
                columns[name] = CategoricalColumn.empty(self.categories[name])
        return Profile(self, 0, columns)

    def profile(self, frame: pd.DataFrame) -> Profile:
        """Profile one frame or chunk; schema columns missing from it are recorded, not fatal."""
        columns: dict[str, Column] = {}
        absent: list[str] = []
        for name in self.columns:
            if name not in frame.columns:
                absent.append(name)
                column: Column = (
                    NumericalColumn.empty(self.edges[name])
                    if name in self.edges
                    else CategoricalColumn.empty(self.categories[name])
                )
            elif name in self.edges:
                column = NumericalColumn.from_series(self.edges[name], frame[name])
            else:
                column = CategoricalColumn.from_series(self.categories[name], frame[name], self._index(name))
            columns[name] = column
        from modelmon.engine.parts import PART_TYPES

        parts = {}
        for part_name, part_type in PART_TYPES.items():
            if part_name in self.state:
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

    def _index(self, name: str) -> dict[str, int]:
        cache = self.state.setdefault("_category_index", {})
        if name not in cache:
            cache[name] = {value: i for i, value in enumerate(self.categories[name])}
        return cache[name]

    def _unexpected(self, frame: pd.DataFrame) -> list[str]:
        known = set(self.schema.monitored_columns) | set(self.schema.segments) | set(self.schema.sensitive)
        known |= {name for name in (self.schema.id, self.schema.timestamp) if name}
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
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProfileSpec:
        return cls(
            Schema.from_dict({key: value for key, value in data["schema"].items() if key != "extra"}),
            {name: np.asarray(edges, dtype=np.float64) for name, edges in data["edges"].items()},
            dict(data["exact"]),
            {name: tuple(values) for name, values in data["categories"].items()},
            dict(data["truncated"]),
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
                columns[name] = CategoricalColumn.from_dict(column, spec.categories[name])
        parts = {name: PART_TYPES[name].from_dict(part) for name, part in data.get("parts", {}).items()}
        return cls(
            spec,
            int(data["rows"]),
            columns,
            list(data["absent_columns"]),
            list(data["unexpected_columns"]),
            parts,
        )
