"""A profile kept small while nothing reads it: its numerical columns hold only their filled cells.

A numerical column counts its values over every cell of the reference (two per distinct reference
value, so thousands for a column such as a fare), although a window's bucket of a few hundred rows
fills at most a few hundred of them. Kept as is, a model's 50 buckets held about 15 MiB of zeros
for the demo taxi model. A packed profile keeps the filled cells' numbers, counts and sums instead,
and unpacks to the very same arrays (a cell left out held a count and a sum of 0), so nothing
computed from a bucket changes.

>>> import pandas as pd
>>> from modelmon.engine.profile import ProfileSpec
>>> from modelmon.schema import Schema
>>> spec = ProfileSpec.fit(pd.DataFrame({"x": [float(v) for v in range(1000)]}), Schema(numerical=["x"]))
>>> profile = spec.profile(pd.DataFrame({"x": [3.0, 3.0, 7.5]}))
>>> packed = PackedProfile.of(profile)
>>> packed.rows, packed.nbytes < profile.columns["x"].cell_counts.nbytes
(3, True)
>>> unpacked = packed.unpack()
>>> bool((unpacked.columns["x"].cell_counts == profile.columns["x"].cell_counts).all())
True
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from modelmon.engine.columns import NumericalColumn
from modelmon.engine.profile import Column, Profile

__all__ = ["PackedProfile"]

_NO_CELLS = np.empty(0)


@dataclass(frozen=True)
class _PackedNumerical:
    shell: NumericalColumn  # the column's totals, with empty cell arrays
    cells: np.ndarray
    counts: np.ndarray
    sums: np.ndarray

    @classmethod
    def of(cls, column: NumericalColumn) -> _PackedNumerical:
        cells = np.flatnonzero(column.cell_counts)
        shell = replace(column, cell_counts=_NO_CELLS, cell_sums=_NO_CELLS)
        return cls(shell, cells.astype(np.int32), column.cell_counts[cells], column.cell_sums[cells])

    def unpack(self) -> NumericalColumn:
        size = 2 * len(self.shell.edges) + 1
        counts = np.zeros(size, dtype=np.int64)
        sums = np.zeros(size, dtype=np.float64)
        counts[self.cells] = self.counts
        sums[self.cells] = self.sums
        return replace(self.shell, cell_counts=counts, cell_sums=sums)


@dataclass(frozen=True)
class PackedProfile:
    """A :class:`~modelmon.engine.profile.Profile` whose numerical columns keep their filled cells only."""

    profile: Profile  # the numerical columns left out of its columns
    numerical: dict[str, _PackedNumerical]
    order: tuple[str, ...]  # of every column

    @classmethod
    def of(cls, profile: Profile) -> PackedProfile:
        numerical = {
            name: _PackedNumerical.of(column)
            for name, column in profile.columns.items()
            if isinstance(column, NumericalColumn)
        }
        others = {name: column for name, column in profile.columns.items() if name not in numerical}
        return cls(replace(profile, columns=others), numerical, tuple(profile.columns))

    @property
    def rows(self) -> int:
        return self.profile.rows

    @property
    def nbytes(self) -> int:
        """Bytes of the packed numerical cells."""
        return sum(p.cells.nbytes + p.counts.nbytes + p.sums.nbytes for p in self.numerical.values())

    def unpack(self) -> Profile:
        """The profile as it was packed (columns in their order)."""
        kept, numerical = self.profile.columns, self.numerical
        columns: dict[str, Column] = {
            name: numerical[name].unpack() if name in numerical else kept[name] for name in self.order
        }
        return replace(self.profile, columns=columns)
