"""Fitting a profile spec from a reference read in chunks, in memory bounded whatever its rows.

A :class:`ReferenceSketch` is fed the reference chunk by chunk (first pass) and then turned into a
:class:`~modelmon.engine.profile.ProfileSpec`; the reference's own profile is built in a second
pass against that spec. The sketch keeps, per numerical column, its minimum, maximum and its
distinct values while there are at most ``max_bins`` of them; per categorical column, the count of
each label; and a :class:`~modelmon.engine.streaming.PrioritySample` of at most ``sample_rows``
whole rows. From these:

- a numerical column with at most ``max_bins`` distinct values gets them all as edges (exact, as
  for a reference held in memory: every statistic read off cumulative counts is exact);
- any other numerical column gets quantile edges of the sampled values, with the column's own
  minimum and maximum as first and last edges. When the reference has at most ``sample_rows``
  rows the sample is the whole reference and the edges are its quantiles (those of the in-memory
  fit below :data:`~modelmon.engine.profile.EDGE_SAMPLE` rows, which samples a larger column). Otherwise
  each cell still holds about ``1 / max_bins`` of the rows (within the sampling error of the
  quantiles, about ``sqrt(q (1 - q) / sample_rows)`` in rank), and the drift tests' error bounds,
  which read the cells' masses, hold as documented in :mod:`modelmon.engine.drift`;
- categories are ranked on the counts of the whole reference, exactly as in memory;
- the model-level parts (performance labels, segment values, outlier forest, calibration) are
  fitted on the sampled rows (the whole reference when it fits in the sample).

The sketch decides from row positions only, so sketches of partitions (``first_row`` given) add up
to the sketch of the whole reference: a spec fitted on a cluster is the spec of one process.

>>> import pandas as pd
>>> from modelmon.engine.profile import ProfileSpec
>>> from modelmon.schema import Schema
>>> schema = Schema(numerical=["x"], categorical=["zone"])
>>> frame = pd.DataFrame({"x": [float(i % 37) for i in range(200)], "zone": list("abcab") * 40})
>>> sketch = ReferenceSketch(schema)
>>> for start in range(0, 200, 64):
...     sketch.update(frame.iloc[start : start + 64], first_row=start)
>>> spec = sketch.spec()
>>> spec.exact["x"], spec.categories["zone"] == ProfileSpec.fit(frame, schema).categories["zone"]
(True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from modelmon.engine.columns import category_labels, numeric_values
from modelmon.engine.profile import DEFAULT_MAX_BINS, DEFAULT_MAX_CATEGORIES, ProfileSpec, map_columns
from modelmon.engine.streaming import PrioritySample
from modelmon.errors import SchemaError
from modelmon.schema import Schema

__all__ = ["DEFAULT_SAMPLE_ROWS", "ReferenceSketch", "sample_rows_for"]

#: rows sampled for quantile edges and the parts' fit when the budget allows (as many as the
#: in-memory fit sampled for a large column)
DEFAULT_SAMPLE_ROWS = 100_000
#: fewest rows sampled however wide the data: quantile edges keep about 10 rows per cell
MIN_SAMPLE_ROWS = 10_000
#: values looked at before deciding a column has more distinct values than edges
_DISTINCT_PROBE = 8192


def sample_rows_for(numerical_columns: int, memory_budget: int) -> int:
    """Rows of the reference sample so that its values take at most a quarter of the memory budget.

    >>> sample_rows_for(20, 256 << 20), sample_rows_for(200, 256 << 20), sample_rows_for(1000, 256 << 20)
    (100000, 41943, 10000)
    """
    fitting = memory_budget // 4 // (8 * max(numerical_columns, 1))
    return int(min(DEFAULT_SAMPLE_ROWS, max(MIN_SAMPLE_ROWS, fitting)))


@dataclass
class _Numbers:
    """Minimum, maximum and (while few) the distinct values of one numerical column."""

    max_bins: int
    low: float = float("inf")
    high: float = float("-inf")
    distinct: np.ndarray | None = field(default_factory=lambda: np.empty(0))

    def update(self, values: np.ndarray) -> None:
        max_bins = self.max_bins
        if len(values) == 0:
            return
        self.low, self.high = min(self.low, float(values.min())), max(self.high, float(values.max()))
        if self.distinct is None:
            return
        probing = len(self.distinct) == 0 and len(values) > _DISTINCT_PROBE
        if probing and len(np.unique(values[:_DISTINCT_PROBE])) > max_bins:
            self.distinct = None  # a continuous column: told from its first values, not sorted whole
            return
        known = self.distinct
        if len(known):
            slot = np.minimum(np.searchsorted(known, values), len(known) - 1)
            values = values[known[slot] != values]
        if len(values):
            self._add(np.unique(values))

    def _add(self, new: np.ndarray) -> None:
        if self.distinct is None:
            return
        merged = np.union1d(self.distinct, new)
        self.distinct = merged if len(merged) <= self.max_bins else None

    def __add__(self, other: _Numbers) -> _Numbers:
        total = _Numbers(self.max_bins, min(self.low, other.low), max(self.high, other.high), self.distinct)
        if other.distinct is None:
            total.distinct = None
        else:
            total._add(other.distinct)
        return total


class ReferenceSketch:
    """What a spec is fitted from, fed chunk by chunk; sketches of partitions add up (``a + b``)."""

    def __init__(
        self,
        schema: Schema,
        *,
        sample_rows: int = DEFAULT_SAMPLE_ROWS,
        max_bins: int = DEFAULT_MAX_BINS,
        max_categories: int = DEFAULT_MAX_CATEGORIES,
        columns: Sequence[str] | None = None,
        total_rows: int | None = None,
        picks: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> None:
        self.schema = schema
        self.sample_rows = sample_rows
        self.max_bins = max_bins
        self.max_categories = max_categories
        self.rows = 0
        self.present: list[str] | None = None
        self.numbers: dict[str, _Numbers] = {}
        self.labels: dict[str, dict[str, int]] = {}
        #: rows of the whole reference, when known: the sample then copies only the rows it keeps
        self.total_rows = total_rows
        self.sample = PrioritySample(
            sample_rows,
            seed=0,
            columns=columns or list(schema.named_columns),
            total_rows=total_rows,
            picks=picks,
        )

    def update(self, chunk: pd.DataFrame, first_row: int | None = None) -> None:
        if self.present is None:
            self._check_columns(chunk)
        first = self.sample.seen if first_row is None else first_row
        self.rows += len(chunk)
        self.sample.update(chunk, first)
        for name in self.present or ():
            if self.schema.kind(name) == "numerical":
                values = numeric_values(chunk[name])[0]
                self.numbers.setdefault(name, _Numbers(self.max_bins)).update(values)
            else:
                codes, labels, _ = category_labels(chunk[name])
                counts = self.labels.setdefault(name, {})
                per_label = np.bincount(codes[codes >= 0], minlength=len(labels))
                for label, count in zip(labels, per_label.tolist(), strict=True):
                    counts[label] = counts.get(label, 0) + count

    def _check_columns(self, chunk: pd.DataFrame) -> None:
        schema = self.schema
        missing = [name for name in schema.monitored_columns if name not in chunk.columns]
        required_missing = [name for name in missing if name != schema.target]
        if required_missing:
            raise SchemaError(
                f"the reference has no column(s) {required_missing}; it has {list(map(str, chunk.columns))}"
            )
        self.present = [name for name in schema.monitored_columns if name in chunk.columns]

    def __add__(self, other: ReferenceSketch) -> ReferenceSketch:
        if not isinstance(other, ReferenceSketch) or other.schema != self.schema:
            raise SchemaError("reference sketches of different schemas cannot be added")
        total = ReferenceSketch(
            self.schema,
            sample_rows=self.sample_rows,
            max_bins=self.max_bins,
            max_categories=self.max_categories,
            total_rows=self.total_rows if self.total_rows == other.total_rows else None,
        )
        total.rows = self.rows + other.rows
        total.present = self.present if self.present is not None else other.present
        total.sample = self.sample + other.sample
        for name in set(self.numbers) | set(other.numbers):
            parts = [side.numbers[name] for side in (self, other) if name in side.numbers]
            total.numbers[name] = parts[0] + parts[1] if len(parts) == 2 else parts[0]
        for name in set(self.labels) | set(other.labels):
            counts = dict(self.labels.get(name, {}))
            for label, count in other.labels.get(name, {}).items():
                counts[label] = counts.get(label, 0) + count
            total.labels[name] = counts
        return total

    def _edges(self, name: str) -> tuple[np.ndarray, bool]:
        numbers = self.numbers.get(name, _Numbers(self.max_bins))
        if numbers.distinct is not None:
            return (numbers.distinct if len(numbers.distinct) else np.array([0.0])), True
        sampled = self.sample.column(name)
        ordered = np.sort(numeric_values(sampled)[0]) if sampled is not None else np.empty(0)
        if len(ordered) == 0:
            return np.array([numbers.low, numbers.high]), False
        positions = np.linspace(0, len(ordered) - 1, self.max_bins + 1).round().astype(np.int64)
        inner = ordered[positions]
        return np.unique(np.concatenate(([numbers.low], inner[1:-1], [numbers.high]))), False

    def spec(self, parts: Sequence[str] | None = None) -> ProfileSpec:
        """The fitted spec; ``parts`` names the model-level parts to fit (``None``: all, ``()``: none)."""
        if self.present is None:
            raise SchemaError("the reference has no rows to fit a profile on")
        spec = ProfileSpec(self.schema)
        numerical = [name for name in self.present if self.schema.kind(name) == "numerical"]
        # a sort goes over its values about log2(n) times: threads pay off on fewer rows than a lookup
        rows = min(self.rows, self.sample_rows)
        work = rows * max(int(np.log2(max(rows, 2))), 1)
        self.sample.settle()  # before the threads read its columns
        edges = map_columns(self._edges, numerical, work)
        for name, (column_edges, exact) in zip(numerical, edges, strict=True):
            spec.edges[name], spec.exact[name] = column_edges, exact
        for name in self.present:
            if self.schema.kind(name) != "numerical":
                counts = self.labels.get(name, {})
                ranked = sorted(counts, key=lambda label: (-counts[label], label))
                spec.categories[name] = tuple(ranked[: self.max_categories])
                spec.truncated[name] = len(ranked) > self.max_categories
        if parts is not None and not parts:
            return spec
        from modelmon.engine.parts import PART_TYPES

        sample = self.sample.frame()  # the parts are fitted on whole rows
        for part_name, part_type in PART_TYPES.items():
            if parts is not None and part_name not in parts:
                continue
            state = part_type.fit(sample, spec)
            if state is not None:
                spec.state[part_name] = state
        return spec
