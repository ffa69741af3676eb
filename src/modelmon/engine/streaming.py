"""Row keepers that add up: the same rows whatever the chunks or partitions the data came in.

A report keeps a bounded sample of raw rows and a bounded time-ordered stream of each side. Both
keepers here decide what to keep from each row's position in the whole dataset (``first_row`` of
its chunk plus its place in the chunk), never from the order chunks arrive in, so keepers fed
different partitions on different processes add up (``a + b``) to exactly the keeper of one
process fed everything:

- :class:`PrioritySample` keeps the ``size`` rows of smallest *priority*, a fixed pseudo-random
  64-bit number per row position (a bijection of it, so priorities never tie): a uniform sample
  without replacement. When the data has at most ``size`` rows, it keeps them all. Told the
  number of rows of the whole dataset (``total_rows``), it knows from the start which priorities
  make the cut, so it copies only the rows it keeps, once; otherwise it keeps candidates and
  compacts them as it goes. Both keep the same rows. Samples of the same rows fed different
  columns (the passes over a file's column subsets) can share one ``picks`` dictionary, so the
  cut and each chunk's kept rows are found once.
- :class:`StrideSample` keeps the rows whose position is a multiple of a power-of-two stride, the
  smallest stride that keeps at most ``max_rows`` rows: rows spread evenly over the whole stream.

>>> import pandas as pd
>>> frame = pd.DataFrame({"x": range(100)})
>>> whole = PrioritySample(10)
>>> whole.update(frame)
>>> parts = PrioritySample(10), PrioritySample(10)
>>> parts[0].update(frame.iloc[:37]); parts[1].update(frame.iloc[37:], first_row=37)
>>> (parts[0] + parts[1]).frame().equals(whole.frame()), len(whole.frame())
(True, 10)
>>> stream = StrideSample(8)
>>> stream.update(frame)
>>> stream.frame()["x"].tolist()
[0, 16, 32, 48, 64, 80, 96]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["PrioritySample", "StrideSample", "priority_cut", "row_priorities"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def row_priorities(first_row: int, rows: int, seed: int = 0) -> np.ndarray:
    """The priority of rows ``first_row .. first_row + rows - 1``: splitmix64 of the position.

    >>> row_priorities(5, 3).tolist() == row_priorities(0, 8)[5:].tolist()
    True
    """
    with np.errstate(over="ignore"):
        z = np.arange(first_row, first_row + rows, dtype=np.uint64)
        z += np.uint64(seed) * _GOLDEN + _GOLDEN
        z ^= z >> np.uint64(30)
        z *= _MIX1
        z ^= z >> np.uint64(27)
        z *= _MIX2
        z ^= z >> np.uint64(31)
    return z


#: pieces of kept rows joined into one once there are this many (a wide frame's per-column
#: overhead would otherwise grow with the number of chunks, not with the rows kept)
_MAX_PIECES = 64
#: rows whose priorities are drawn at a time when finding the cut of a large dataset
_CUT_BLOCK = 1 << 22


def priority_cut(total_rows: int, size: int, seed: int = 0) -> np.uint64 | None:
    """The ``size``-th smallest priority among ``total_rows`` rows (``None``: they all fit).

    Drawn a block at a time, so finding it takes memory for ``size`` priorities, not ``total_rows``.

    >>> keys = row_priorities(0, 1000)
    >>> priority_cut(1000, 10) == np.sort(keys)[9], priority_cut(1000, 1000)
    (np.True_, None)
    """
    if total_rows <= size:
        return None
    best = np.empty(0, dtype=np.uint64)
    for start in range(0, total_rows, _CUT_BLOCK):
        keys = np.concatenate((best, row_priorities(start, min(_CUT_BLOCK, total_rows - start), seed)))
        best = np.partition(keys, size - 1)[:size] if len(keys) > size else keys
    return np.uint64(best.max())


def _take(frame: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    if len(rows) == len(frame) and bool(np.all(rows == np.arange(len(rows)))):
        return frame.reset_index(drop=True)  # every row in order: the frame itself, not a copy
    return frame.iloc[rows].reset_index(drop=True)


class PrioritySample:
    """The ``size`` rows of smallest :func:`row_priorities` among all rows fed, in position order.

    ``columns`` restricts what is kept (columns absent from a chunk are skipped). Feed each chunk
    with the position of its first row in the whole dataset (``first_row``); without it, chunks are
    taken to follow each other. ``total_rows``, when known, is the number of rows of the whole
    dataset (every partition's sample is told the same): rows are then copied once, as they are
    kept, instead of kept as candidates and compacted.
    """

    def __init__(
        self,
        size: int,
        seed: int = 0,
        columns: Sequence[str] | None = None,
        total_rows: int | None = None,
        picks: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> None:
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        self.size = size
        self.seed = seed
        self.columns = None if columns is None else list(columns)
        self.total_rows = total_rows
        #: (first row, rows) of a chunk -> the places and priorities of its rows that make the cut,
        #: shared by samples of the same size, seed and ``total_rows``
        self.picks = picks
        self._reset()

    def _reset(self) -> None:
        self._rows: pd.DataFrame | None = None
        self._pending: list[tuple[pd.DataFrame, np.ndarray, np.ndarray]] = []
        self._pending_rows = 0
        self._bound: np.uint64 | None = None
        self._keys = np.empty(0, dtype=np.uint64)
        self._positions = np.empty(0, dtype=np.int64)
        self._next_row = 0
        self.seen = 0
        #: with ``total_rows``: the largest priority that makes the cut (``None``: every row does)
        self._cut: np.uint64 | None = None
        self._planned = False
        #: whether pending rows include candidates that compaction may drop
        self._candidates = False

    def update(self, chunk: pd.DataFrame, first_row: int | None = None) -> None:
        first = self._next_row if first_row is None else first_row
        self._next_row = first + len(chunk)
        self.seen += len(chunk)
        if self.size == 0 or len(chunk) == 0:
            return
        if self.columns is not None:
            chunk = chunk[[name for name in self.columns if name in chunk.columns]]
        if self.total_rows is not None and first + len(chunk) <= self.total_rows:
            picked, kept = self._picked(first, len(chunk))
            self._pending.append((_take(chunk, picked), kept, first + picked))
            self._pending_rows += len(picked)
            if len(self._pending) >= _MAX_PIECES:  # each piece costs a few hundred bytes a column
                self._compact()
            return
        self._candidates = True
        keys = row_priorities(first, len(chunk), self.seed)
        # only rows below the largest key kept at the last compaction can enter
        picked = np.arange(len(chunk)) if self._bound is None else np.flatnonzero(keys < self._bound)
        if len(picked) > self.size:
            picked = picked[np.argpartition(keys[picked], self.size - 1)[: self.size]]
            picked.sort()
        self._pending.append((_take(chunk, picked), keys[picked], first + picked))
        self._pending_rows += len(picked)
        if self._pending_rows > self.size:  # compact at twice the size: half as many copies
            self._compact()

    def _picked(self, first: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """The places in a chunk of the rows that make the cut, and their priorities."""
        found = None if self.picks is None else self.picks.get((first, rows))
        if found is not None:
            return found
        if not self._planned:
            self._cut, self._planned = priority_cut(self.total_rows or 0, self.size, self.seed), True
        keys = row_priorities(first, rows, self.seed)
        picked = np.arange(rows) if self._cut is None else np.flatnonzero(keys <= self._cut)
        found = picked, keys[picked]
        if self.picks is not None:
            self.picks[(first, rows)] = found
        return found

    def _compact(self) -> None:
        if not self._pending:
            return
        parts = (
            self._pending
            if self._rows is None
            else [(self._rows, self._keys, self._positions), *self._pending]
        )
        self._pending, self._pending_rows, self._candidates = [], 0, False
        rows = pd.concat([part[0] for part in parts], ignore_index=True) if len(parts) > 1 else parts[0][0]
        keys = np.concatenate([part[1] for part in parts])
        positions = np.concatenate([part[2] for part in parts])
        if len(keys) > self.size:
            kept = np.argpartition(keys, self.size - 1)[: self.size]
            self._bound = keys[kept].max()
            kept = kept[np.argsort(positions[kept], kind="stable")]
        elif len(positions) > 1 and not bool(np.all(positions[1:] > positions[:-1])):
            kept = np.argsort(positions, kind="stable")
        else:  # all kept, already in position order (chunks fed in turn): no second copy
            self._rows, self._keys, self._positions = rows, keys, positions
            return
        self._rows, self._keys, self._positions = _take(rows, kept), keys[kept], positions[kept]

    def __add__(self, other: PrioritySample) -> PrioritySample:
        if not isinstance(other, PrioritySample) or (other.size, other.seed) != (self.size, self.seed):
            raise ValueError("only samples of the same size and seed add up")
        same_total = self.total_rows == other.total_rows
        total = PrioritySample(self.size, self.seed, self.columns, self.total_rows if same_total else None)
        for part in (self, other):
            part._compact()
            if part._rows is not None:
                total._pending.append((part._rows, part._keys, part._positions))
        total._compact()
        total.seen = self.seen + other.seen
        total._next_row = max(self._next_row, other._next_row)
        return total

    @property
    def positions(self) -> np.ndarray:
        """Position in the whole dataset of each kept row, ascending."""
        self._compact()
        return self._positions

    def settle(self) -> None:
        """Drop the candidates that are not kept (nothing to do when told ``total_rows``); call it
        before reading :meth:`column` from several threads."""
        if self._candidates:
            self._compact()

    def column(self, name: str) -> pd.Series | None:
        """One column of the kept rows in no set order (``None``: not kept), for statistics that
        ignore order, without joining the other columns into one frame."""
        self.settle()
        parts = [part[0] for part in self._pending]
        if self._rows is not None:
            parts.insert(0, self._rows)
        pieces = [part[name] for part in parts if name in part.columns]
        if not pieces:
            return None
        return pieces[0] if len(pieces) == 1 else pd.concat(pieces, ignore_index=True)

    def frame(self) -> pd.DataFrame:
        """The kept rows in position order (an empty frame when nothing arrived)."""
        self._compact()
        if self._rows is None:
            return pd.DataFrame(columns=list(self.columns or []))
        return self._rows


class StrideSample:
    """At most ``max_rows`` rows, those whose position is a multiple of ``stride`` (a power of two,
    the smallest that keeps at most ``max_rows``); :meth:`frame` sorts them by ``time_column``."""

    def __init__(
        self, max_rows: int, columns: Sequence[str] | None = None, time_column: str | None = None
    ) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows must be >= 1, got {max_rows}")
        self.max_rows = max_rows
        self.columns = None if columns is None else list(columns)
        self.time_column = time_column
        self._reset()

    def _reset(self) -> None:
        self._parts: list[pd.DataFrame] = []
        self._positions: list[np.ndarray] = []
        self._next_row = 0
        self.seen = 0
        self.stride = 1

    def update(self, chunk: pd.DataFrame, first_row: int | None = None) -> None:
        first = self._next_row if first_row is None else first_row
        self._next_row = first + len(chunk)
        self.seen += len(chunk)
        if self.columns is not None:
            chunk = chunk[[name for name in self.columns if name in chunk.columns]]
        positions = np.arange(first, first + len(chunk), dtype=np.int64)
        on_stride = np.flatnonzero(positions % self.stride == 0)
        self._parts.append(_take(chunk, on_stride))
        self._positions.append(positions[on_stride])
        self._thin()

    def _kept(self) -> int:
        return sum(len(part) for part in self._positions)

    def _thin(self) -> None:
        while self._kept() > self.max_rows:
            self.stride *= 2
            rows, positions = self._joined()
            keep = np.flatnonzero(positions % self.stride == 0)
            self._parts, self._positions = [_take(rows, keep)], [positions[keep]]

    def _joined(self) -> tuple[pd.DataFrame, np.ndarray]:
        positions = np.concatenate(self._positions) if self._positions else np.empty(0, np.int64)
        rows = pd.concat(self._parts, ignore_index=True) if self._parts else pd.DataFrame()
        order = np.argsort(positions, kind="stable")
        return _take(rows, order), positions[order]

    def __add__(self, other: StrideSample) -> StrideSample:
        if not isinstance(other, StrideSample) or other.max_rows != self.max_rows:
            raise ValueError("only streams of the same max_rows add up")
        total = StrideSample(self.max_rows, self.columns, self.time_column)
        total.stride = max(self.stride, other.stride)
        for part in (self, other):
            for rows, positions in zip(part._parts, part._positions, strict=True):
                keep = np.flatnonzero(positions % total.stride == 0)
                total._parts.append(_take(rows, keep))
                total._positions.append(positions[keep])
        total.seen = self.seen + other.seen
        total._next_row = max(self._next_row, other._next_row)
        total._thin()
        return total

    def frame(self) -> pd.DataFrame:
        """The kept rows, in time order when a time column was given, else in position order."""
        if not self._parts:
            return pd.DataFrame(columns=list(self.columns or []))
        kept = self._joined()[0]
        if self.time_column is not None and self.time_column in kept.columns:
            kept = kept.sort_values(self.time_column, kind="stable")
        return kept.reset_index(drop=True)
