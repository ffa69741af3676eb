"""Page-Hinkley: a cumulative-sum test for a change in the mean of a stream (Page, 1954).

Each value's deviation from the running mean is accumulated, minus an allowance ``delta`` (for
increases; plus it for decreases), with a forgetting factor ``alpha``. A change is detected when
the cumulative sum rises more than ``threshold`` above its minimum (increase) or falls more than
``threshold`` below its maximum (decrease). Updates follow river's ``drift.PageHinkley`` operation
for operation, so detections land on the same indices; the update after a detection starts afresh.

>>> import random
>>> rng = random.Random(12345)
>>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
>>> detector = PageHinkley()
>>> for i, value in enumerate(stream):
...     detector.update(value)
...     if detector.drift_detected:
...         print(f"drift at index {i}")
drift at index 1006
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["PageHinkley"]


class PageHinkley:
    """Page-Hinkley test over a stream of numbers.

    Parameters: ``min_instances`` values seen before a change may be reported; ``delta`` the
    magnitude of change tolerated per value; ``threshold`` (lambda) the detection threshold;
    ``alpha`` the forgetting factor in (0, 1]; ``mode`` which changes count: "up", "down" or "both".
    """

    MODES = ("up", "down", "both")

    def __init__(
        self,
        min_instances: int = 30,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 1 - 0.0001,
        mode: str = "both",
    ) -> None:
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {', '.join(self.MODES)}, got {mode!r}")
        if not isinstance(min_instances, int) or min_instances < 1:
            raise ValueError(f"min_instances must be an integer >= 1, got {min_instances!r}")
        if delta < 0:
            raise ValueError(f"delta must be >= 0, got {delta!r}")
        if threshold <= 0:
            raise ValueError(f"threshold must be > 0, got {threshold!r}")
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
        self.min_instances = min_instances
        self.delta = delta
        self.threshold = threshold
        self.alpha = alpha
        self.mode = mode
        self._reset()

    def _reset(self) -> None:
        self._drift_detected = False
        self._n = 0
        self._mean = 0.0
        self._sum_increase = 0.0
        self._sum_decrease = 0.0
        self._min_increase = float("inf")
        # river starts the running maximum at -1, not -inf; kept so that detections agree
        self._max_decrease = -1.0

    @property
    def drift_detected(self) -> bool:
        """Whether the last update detected a change."""
        return self._drift_detected

    @property
    def n(self) -> int:
        """Values seen since the last reset."""
        return self._n

    def update(self, x: float) -> None:
        """Add one value and test for a change."""
        self.update_many((x,))

    def update_many(self, values: Iterable[float]) -> list[int]:
        """Add values in order, as :meth:`update` on each; the offsets at which a change was detected.

        One loop over local variables with the arithmetic of :meth:`update`, operation for
        operation, so the sums and the detections are the same as value by value.
        """
        found: list[int] = []
        alpha, delta, threshold, least = self.alpha, self.delta, self.threshold, self.min_instances
        up, down = self.mode != "down", self.mode != "up"
        detected, n, mean = self._drift_detected, self._n, self._mean
        increase_sum, decrease_sum = self._sum_increase, self._sum_decrease
        lowest, highest = self._min_increase, self._max_decrease
        for offset, x in enumerate(values):
            if detected:
                # the state of _reset, kept in locals (the test compares it with _reset's)
                detected, n, mean = False, 0, 0.0
                increase_sum, decrease_sum, lowest, highest = 0.0, 0.0, float("inf"), -1.0
            n += 1
            mean += (1.0 / n) * (x - mean)
            deviation = x - mean
            increase_sum = alpha * increase_sum + deviation - delta
            decrease_sum = alpha * decrease_sum + deviation + delta
            if increase_sum < lowest:  # min(): the first of equals stays
                lowest = increase_sum
            if decrease_sum > highest:
                highest = decrease_sum
            if n < least:
                continue
            detected = (up and increase_sum - lowest > threshold) or (
                down and highest - decrease_sum > threshold
            )
            if detected:
                found.append(offset)
        self._drift_detected, self._n, self._mean = detected, n, mean
        self._sum_increase, self._sum_decrease = increase_sum, decrease_sum
        self._min_increase, self._max_decrease = lowest, highest
        return found
