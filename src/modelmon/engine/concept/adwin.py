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
        if self._drift_detected:
            self._reset()
        self._insert(float(x))
        self._drift_detected = self._detect_change()

    def _insert(self, value: float) -> None:
        self._totals[0].append(value)
        self._variances[0].append(0.0)
        self._width += 1
        increment = 0.0
        if self._width > 1:
            deviation = value - self._total / (self._width - 1)
            increment = (self._width - 1) * deviation * deviation / self._width
        self._variance += increment
        self._total += value
        self._compress()

    def _compress(self) -> None:
        row = 0
        while len(self._totals[row]) == self.max_buckets + 1:
            size = float(1 << row)
            first, second = self._totals[row][0], self._totals[row][1]
            mean_gap = first / size - second / size
            merged_variance = (
                self._variances[row][0] + self._variances[row][1] + size * 0.5 * mean_gap * mean_gap
            )
            if row + 1 == len(self._totals):
                self._totals.append([])
                self._variances.append([])
            self._totals[row + 1].append(first + second)
            self._variances[row + 1].append(merged_variance)
            del self._totals[row][:2], self._variances[row][:2]
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

    def _detect_change(self) -> bool:
        detected = False
        self._tick += 1
        if self._tick % self.clock != 0 or self._width <= self.grace_period:
            return False
        cut = True
        while cut:
            cut = self._cut_once()
            detected = detected or cut
        if detected:
            self._n_detections += 1
        return detected

    def _cut_once(self) -> bool:
        """Scan the cuts from the oldest end; drop the oldest bucket at the first significant one."""
        older_n, newer_n = 0.0, float(self._width)
        older_sum, newer_sum = 0.0, self._total
        for row in range(len(self._totals) - 1, -1, -1):
            size = float(1 << row)
            entries = self._totals[row]
            for k, total in enumerate(entries):
                older_n += size
                newer_n -= size
                older_sum += total
                newer_sum -= total
                if row == 0 and k == len(entries) - 1:
                    return False
                gap = older_sum / older_n - newer_sum / newer_n
                if (
                    newer_n >= self.min_window_length
                    and older_n >= self.min_window_length
                    and self._significant(older_n, newer_n, gap)
                ):
                    self._drop_oldest()
                    return True
        return False

    def _significant(self, older_n: float, newer_n: float, gap: float) -> bool:
        log_term = math.log(2.0 * math.log(self._width) / self.delta)
        harmonic = 1.0 / (older_n - self.min_window_length + 1.0) + 1.0 / (
            newer_n - self.min_window_length + 1.0
        )
        epsilon = (
            math.sqrt(2.0 * harmonic * (self._variance / self._width) * log_term)
            + 2.0 / 3.0 * log_term * harmonic
        )
        return abs(gap) > epsilon
