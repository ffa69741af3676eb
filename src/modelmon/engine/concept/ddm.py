"""DDM: the drift detection method of Gama et al. (2004) over a stream of 0/1 errors.

The error rate ``p`` and its binomial standard deviation ``s = sqrt(p (1 - p) / n)`` are tracked;
after ``warm_start`` values the smallest ``p + s`` seen is remembered as ``p_min + s_min``. A
warning is raised when ``p + s > p_min + warning_threshold * s_min`` and a drift when
``p + s > p_min + drift_threshold * s_min``. Updates follow river's ``drift.binary.DDM`` operation
for operation, so detections land on the same indices; the update after a drift starts afresh.

>>> import random
>>> rng = random.Random(42)
>>> stream = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
>>> detector = DDM()
>>> for i, error in enumerate(stream):
...     detector.update(error)
...     if detector.drift_detected:
...         print(f"drift at index {i}")
drift at index 1334
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["DDM"]


class DDM:
    """Drift detection over a stream of errors (1 = wrong prediction, 0 = right).

    Parameters: ``warm_start`` values seen before a change may be reported; ``warning_threshold``
    and ``drift_threshold`` how many minimum standard deviations above the minimum error rate
    raise a warning and a drift (the drift threshold must be the larger).
    """

    def __init__(self, warm_start: int = 30, warning_threshold: float = 2.0, drift_threshold: float = 3.0):
        if not isinstance(warm_start, int) or warm_start < 0:
            raise ValueError(f"warm_start must be an integer >= 0, got {warm_start!r}")
        if warning_threshold <= 0 or drift_threshold < warning_threshold:
            raise ValueError(
                "thresholds must satisfy 0 < warning_threshold <= drift_threshold, "
                f"got warning_threshold={warning_threshold!r}, drift_threshold={drift_threshold!r}"
            )
        self.warm_start = warm_start
        self.warning_threshold = warning_threshold
        self.drift_threshold = drift_threshold
        self._reset()

    def _reset(self) -> None:
        self._drift_detected = False
        self._warning_detected = False
        self._n = 0
        self._error_rate = 0.0
        self._p_min = float("nan")
        self._s_min = float("nan")
        self._ps_min = float("inf")

    @property
    def drift_detected(self) -> bool:
        """Whether the last update detected a drift."""
        return self._drift_detected

    @property
    def warning_detected(self) -> bool:
        """Whether the last update is in the warning zone."""
        return self._warning_detected

    @property
    def error_rate(self) -> float:
        """Error rate since the last reset."""
        return self._error_rate

    def update(self, x: bool | int | float) -> None:
        """Add one error indicator (truthy = the prediction was wrong) and test for a drift."""
        self.update_many((x,))

    def update_many(self, values: Iterable[bool | int | float]) -> list[int]:
        """Add error indicators in order, as :meth:`update` on each; the offsets of the drifts found.

        One loop over local variables with the arithmetic of :meth:`update`, operation for
        operation, so the rates and the detections are the same as value by value.
        """
        found: list[int] = []
        warm_start, warning_threshold, drift_threshold = (
            self.warm_start,
            self.warning_threshold,
            self.drift_threshold,
        )
        sqrt = math.sqrt
        drift, warning, n, rate = self._drift_detected, self._warning_detected, self._n, self._error_rate
        p_min, s_min, ps_min = self._p_min, self._s_min, self._ps_min
        for offset, x in enumerate(values):
            if drift:
                # the state of _reset, kept in locals
                drift, warning, n, rate = False, False, 0, 0.0
                p_min, s_min, ps_min = float("nan"), float("nan"), float("inf")
            n += 1
            rate += (1.0 / n) * (float(x) - rate)
            p = rate
            s = sqrt(p * (1 - p) / n)
            if n <= warm_start:
                continue
            if p + s <= ps_min:
                p_min, s_min = p, s
                ps_min = p + s
            warning = p + s > p_min + warning_threshold * s_min
            if p + s > p_min + drift_threshold * s_min:
                drift, warning = True, False
                found.append(offset)
        self._drift_detected, self._warning_detected, self._n, self._error_rate = drift, warning, n, rate
        self._p_min, self._s_min, self._ps_min = p_min, s_min, ps_min
        return found
