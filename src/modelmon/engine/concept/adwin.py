"""ADWIN: adaptive windowing change detector (Bifet and Gavaldà, 2007).

ADWIN keeps a window of recent values compressed into exponential buckets (at most
``max_buckets + 1`` summaries of ``2**i`` values per row ``i``). Every ``clock`` values it checks
each cut of the window into an older part ``W0`` and a newer part ``W1``; when their means differ
by more than a Bernstein-style bound driven by ``delta``, it drops the oldest bucket, repeats, and
reports a drift.

The arithmetic follows river's ``drift.ADWIN`` operation for operation, so detections land on the
same indices; as in river, the update after a detection starts from an empty window.

>>> import random
>>> rng = random.Random(12345)
>>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
>>> detector = ADWIN()
>>> for i, value in enumerate(stream):
...     detector.update(value)
...     if detector.drift_detected:
...         print(f"drift at index {i}")
drift at index 1023
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["ADWIN"]


class ADWIN:
    """Adaptive windowing over a stream of numbers (here: absolute prediction errors).

    Parameters: ``delta`` the significance of the cut test, in (0, 1); ``clock`` how often (in
    values) the cuts are checked; ``max_buckets`` summaries kept per bucket size before two merge;
    ``min_window_length`` the smallest sub-window a cut may leave; ``grace_period`` values seen
    before any check.
    """

    def __init__(
        self,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
    ) -> None:
        if not 0.0 < delta < 1.0:
            raise ValueError(f"delta must be between 0 and 1 (exclusive), got {delta!r}")
        for name, value, least in (
            ("clock", clock, 1),
            ("max_buckets", max_buckets, 1),
            ("min_window_length", min_window_length, 1),
            ("grace_period", grace_period, 0),
        ):
            if not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
        self.delta = delta
        self.clock = clock
        self.max_buckets = max_buckets
        self.min_window_length = min_window_length
        self.grace_period = grace_period
        self._reset()

    def _reset(self) -> None:
        self._drift_detected = False
        # row i holds summaries of 2**i values, oldest first: their sums and their sums of squared deviations
        self._totals: list[list[float]] = [[]]
        self._variances: list[list[float]] = [[]]
        self._total = 0.0
        self._variance = 0.0
        self._width = 0
        self._tick = 0
        self._n_detections = 0

    @property
    def drift_detected(self) -> bool:
        """Whether the last update detected a change."""
        return self._drift_detected

    @property
    def width(self) -> int:
        """Values in the current window."""
        return self._width

    @property
    def estimation(self) -> float:
        """Mean of the current window (0 when empty)."""
        return self._total / self._width if self._width else 0.0

    @property
    def n_detections(self) -> int:
        """Changes detected since the last reset."""
        return self._n_detections

    def update(self, x: float) -> None:
        """Add one value and test for a change."""
        self.update_many((x,))

    def update_many(self, values: Iterable[float]) -> list[int]:
        """Add values in order, as :meth:`update` on each; the offsets at which a change was detected.

        The insertion is written out in the loop over local variables (the arithmetic of one value
        at a time, operation for operation); the cuts are checked every ``clock`` values as before,
        on the state written back.
        """
        found: list[int] = []
        clock, grace_period, full = self.clock, self.grace_period, self.max_buckets + 1
        drift, tick = self._drift_detected, self._tick
        width, total, variance = self._width, self._total, self._variance
        totals, variances = self._totals, self._variances
        for offset, x in enumerate(values):
            if drift:
                self._reset()
                drift, tick = False, 0
                width, total, variance = 0, 0.0, 0.0
                totals, variances = self._totals, self._variances
            value = float(x)
            newest = totals[0]
            newest.append(value)
            variances[0].append(0.0)
            width += 1
            increment = 0.0
            if width > 1:
                deviation = value - total / (width - 1)
                increment = (width - 1) * deviation * deviation / width
            variance += increment
            total += value
            if len(newest) == full:
                self._compress()
            tick += 1
            if tick % clock != 0 or width <= grace_period:
                continue
            self._width, self._total, self._variance = width, total, variance
            while self._cut_once():  # each cut drops the oldest bucket
                drift = True
            width, total, variance = self._width, self._total, self._variance
            if drift:
                self._n_detections += 1
                found.append(offset)
        self._drift_detected, self._tick = drift, tick
        self._width, self._total, self._variance = width, total, variance
        return found

    def _compress(self) -> None:
        totals, variances, full = self._totals, self._variances, self.max_buckets + 1
        row = 0
        while len(totals[row]) == full:
            size = float(1 << row)
            row_totals, row_variances = totals[row], variances[row]
            first, second = row_totals[0], row_totals[1]
            mean_gap = first / size - second / size
            merged_variance = row_variances[0] + row_variances[1] + size * 0.5 * mean_gap * mean_gap
            if row + 1 == len(totals):
                totals.append([])
                variances.append([])
            totals[row + 1].append(first + second)
            variances[row + 1].append(merged_variance)
            del row_totals[:2], row_variances[:2]
            row += 1

    def _drop_oldest(self) -> None:
        last = len(self._totals) - 1
        size = float(1 << last)
        total, variance = self._totals[last].pop(0), self._variances[last].pop(0)
        self._width -= int(size)
        self._total -= total
        window_mean = self._total / self._width
        gap = total / size - window_mean
        self._variance -= variance + size * self._width * gap * gap / (size + self._width)
        if not self._totals[last]:
            self._totals.pop()
            self._variances.pop()

    def _cut_once(self) -> bool:
        """Scan the cuts from the oldest end; drop the oldest bucket at the first significant one.

        A cut is significant when the gap of the two parts' means exceeds the Bernstein bound
        ``epsilon``; the terms of the bound that do not change along the scan are computed once
        (the operations and their order are river's).
        """
        least = self.min_window_length
        log_term = math.log(2.0 * math.log(self._width) / self.delta)
        spread = self._variance / self._width
        third = 2.0 / 3.0 * log_term
        sqrt = math.sqrt
        older_n, newer_n = 0.0, float(self._width)
        older_sum, newer_sum = 0.0, self._total
        for row in range(len(self._totals) - 1, -1, -1):
            size = float(1 << row)
            entries = self._totals[row]
            last = len(entries) - 1 if row == 0 else -1
            for k, total in enumerate(entries):
                older_n += size
                newer_n -= size
                older_sum += total
                newer_sum -= total
                if k == last:
                    return False
                gap = older_sum / older_n - newer_sum / newer_n
                if newer_n >= least and older_n >= least:
                    harmonic = 1.0 / (older_n - least + 1.0) + 1.0 / (newer_n - least + 1.0)
                    epsilon = sqrt(2.0 * harmonic * spread * log_term) + third * harmonic
                    if abs(gap) > epsilon:
                        self._drop_oldest()
                        return True
        return False
