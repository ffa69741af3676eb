"""Bounded row keepers fed chunk by chunk: a uniform reservoir sample and a time-ordered stream.

Some statistics need raw rows (SHAP values, outlier scores, a domain classifier, detectors over the
ordered error stream). These keepers hold at most a fixed number of rows however many arrive, so a
report over any number of rows needs bounded memory.

>>> import pandas as pd
>>> sample = ReservoirSample(size=3, seed=0)
>>> for start in range(0, 100, 10):
...     sample.update(pd.DataFrame({"x": range(start, start + 10)}))
>>> len(sample.frame()), sample.seen
(3, 100)
>>> stream = StreamKeeper(max_rows=8)
>>> for start in range(0, 100, 10):
...     stream.update(pd.DataFrame({"x": range(start, start + 10)}))
>>> stream.frame()["x"].tolist()
[0, 16, 32, 48, 64, 80, 96]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["ReservoirSample", "StreamKeeper"]


class ReservoirSample:
    """A uniform sample of at most ``size`` rows of everything fed to :meth:`update` (Algorithm R).

    Deterministic for a given ``seed`` and sequence of chunk sizes; the same rows are chosen as
    if they had been fed one by one. :meth:`frame` returns the kept rows in the order they arrived.
    ``columns`` restricts what is kept (columns absent from a chunk are skipped).
    """

    def __init__(self, size: int, seed: int = 0, columns: Sequence[str] | None = None) -> None:
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        self.size = size
        self.seed = seed
        self.columns = columns
        self._reset()

    def _reset(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self._rows: pd.DataFrame | None = None
        self._positions = np.empty(0, dtype=np.int64)  # arrival index of each kept row, by slot
        self._seen = 0

    @property
    def seen(self) -> int:
        """Rows fed so far."""
        return self._seen

    def update(self, chunk: pd.DataFrame) -> None:
        if self.columns is not None:
            chunk = chunk[[name for name in self.columns if name in chunk.columns]]
        chunk = chunk.reset_index(drop=True)
        start, n = self._seen, len(chunk)
        self._seen += n
        if n == 0 or self.size == 0:
            return
        filling = max(min(self.size - start, n), 0)
        slots = np.arange(start, start + filling)
        rows = np.arange(filling)
        if filling < n:
            arrival = np.arange(start + filling, start + n)
            # Algorithm R: row i replaces a random slot j with probability size / (i + 1)
            draws = self._rng.integers(0, arrival + 1)
            hit = draws < self.size
            replace_slots, replace_rows = draws[hit], (arrival[hit] - start)
            # when a slot is hit more than once in this chunk, the last row wins (as one by one)
            last = len(replace_slots) - 1 - np.unique(replace_slots[::-1], return_index=True)[1]
            slots = np.concatenate([slots, replace_slots[last]])
            rows = np.concatenate([rows, replace_rows[last]])
        self._merge(chunk, slots, rows, start)

    def _merge(self, chunk: pd.DataFrame, slots: np.ndarray, rows: np.ndarray, start: int) -> None:
        size = min(self.size, self._seen)
        positions = np.full(size, -1, dtype=np.int64)
        positions[: len(self._positions)] = self._positions
        positions[slots] = start + rows
        from_old = positions < start
        new_rows = chunk.iloc[positions[~from_old] - start]
        parts = [] if self._rows is None else [self._rows.iloc[np.flatnonzero(from_old)]]
        combined = pd.concat([*parts, new_rows], ignore_index=True) if parts else new_rows
        # keep slot order aligned with `positions`
        order = np.concatenate([np.flatnonzero(from_old), np.flatnonzero(~from_old)])
        self._rows = combined.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)
        self._positions = positions

    def frame(self) -> pd.DataFrame:
        """The kept rows in arrival order (an empty frame when nothing arrived)."""
        if self._rows is None:
            return pd.DataFrame(columns=list(self.columns or []))
        return self._rows.iloc[np.argsort(self._positions, kind="stable")].reset_index(drop=True)


class StreamKeeper:
    """At most ``max_rows`` rows spread evenly over everything fed, in arrival order.

    Rows whose arrival index is a multiple of ``stride`` are kept; ``stride`` starts at 1 and
    doubles each time the kept rows would exceed ``max_rows``, dropping every other kept row. So the
    kept rows are always a uniform stride subsample of the whole stream (between ``max_rows / 2``
    and ``max_rows`` rows once it is full), which keeps trends and change points visible to
    detectors over the ordered stream. :meth:`frame` sorts by ``time_column`` when given.
    """

    def __init__(
        self, max_rows: int, columns: Sequence[str] | None = None, time_column: str | None = None
    ) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows must be >= 1, got {max_rows}")
        self.max_rows = max_rows
        self.columns = columns
        self.time_column = time_column
        self._reset()

    def _reset(self) -> None:
        self._parts: list[pd.DataFrame] = []
        self._kept = 0
        self._seen = 0
        self.stride = 1

    @property
    def seen(self) -> int:
        return self._seen

    def update(self, chunk: pd.DataFrame) -> None:
        if self.columns is not None:
            chunk = chunk[[name for name in self.columns if name in chunk.columns]]
        arrival = np.arange(self._seen, self._seen + len(chunk))
        self._seen += len(chunk)
        on_stride = np.flatnonzero(arrival % self.stride == 0)
        picked = chunk.iloc[on_stride].copy()
        picked["__arrival__"] = arrival[on_stride]
        self._parts.append(picked)
        self._kept += len(picked)
        while self._kept > self.max_rows:
            self.stride *= 2
            kept = pd.concat(self._parts, ignore_index=True)
            kept = kept[kept["__arrival__"].to_numpy() % self.stride == 0]
            self._parts, self._kept = [kept], len(kept)

    def frame(self) -> pd.DataFrame:
        """The kept rows, in time order when a time column was given, else in arrival order."""
        if not self._parts:
            return pd.DataFrame(columns=list(self.columns or []))
        kept = pd.concat(self._parts, ignore_index=True).drop(columns="__arrival__")
        if self.time_column is not None and self.time_column in kept.columns:
            kept = kept.sort_values(self.time_column, kind="stable")
        return kept.reset_index(drop=True)
