"""The recent error level against the reference's band: the second opinion a detector alarm needs.

A change detector fires on a pattern in the error stream; on a healthy model it still fires now
and then by chance (see ``bench/concept_alarms.py``). A real change of concept also moves the
error level, so an alarm is *confirmed* by the windowed error: the mean of the last ``window``
errors above the reference's mean by more than ``sigmas`` standard errors,
``reference_mean + sigmas * reference_sd / sqrt(n)``, once ``n >= min_rows`` errors are in the
window. For 0/1 errors the reference's ``sd`` is the binomial ``sqrt(p (1 - p))``. ``sigmas`` is 4,
not 3: the band is not independent of the detectors (Page-Hinkley fires on the same upward
excursions of the error that lift the window's mean), and at 3 a heavy-tailed stationary stream
(absolute errors of a t(3)) confirmed 11 chance alarms per million labelled rows, at 4 one
(``python -m bench.concept_alarms``); real changes cross either band by far.

>>> import numpy as np
>>> band = ErrorBand(reference_mean=0.1, reference_sd=0.3)
>>> band.update(np.zeros(300) + 0.12)
>>> band.rows, round(band.upper, 3), band.beyond
(300, 0.169, False)
>>> band.update(np.full(300, 0.3))  # the last 500 errors now average 0.22
>>> round(band.mean, 3), band.beyond
(0.228, True)
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["ErrorBand"]


class ErrorBand:
    """Mean of the last ``window`` errors, and whether it is above the reference's band."""

    def __init__(
        self,
        reference_mean: float,
        reference_sd: float,
        window: int = 500,
        sigmas: float = 4.0,
        min_rows: int = 200,
    ) -> None:
        if not math.isfinite(reference_mean) or not math.isfinite(reference_sd) or reference_sd < 0:
            raise ValueError(
                f"reference mean and sd must be finite and sd >= 0, got {reference_mean!r}, {reference_sd!r}"
            )
        if not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be an integer >= 1, got {window!r}")
        if not isinstance(min_rows, int) or not 1 <= min_rows <= window:
            raise ValueError(f"min_rows must be an integer between 1 and window ({window}), got {min_rows!r}")
        if not sigmas > 0:
            raise ValueError(f"sigmas must be > 0, got {sigmas!r}")
        self.reference_mean = reference_mean
        self.reference_sd = reference_sd
        self.window = window
        self.sigmas = sigmas
        self.min_rows = min_rows
        self._reset()

    def _reset(self) -> None:
        self._values: deque[float] = deque(maxlen=self.window)
        self._total = 0.0

    @classmethod
    def from_errors(cls, errors: np.ndarray, binary: bool = False, **options: Any) -> ErrorBand:
        """A band around the mean and spread of reference ``errors`` (0/1 when ``binary``)."""
        values = np.asarray(errors, dtype=float)
        mean = float(values.mean())
        sd = math.sqrt(mean * (1.0 - mean)) if binary else float(values.std())
        return cls(mean, sd, **options)

    @property
    def rows(self) -> int:
        """Errors in the window."""
        return len(self._values)

    @property
    def mean(self) -> float | None:
        """Mean error of the window (None when empty)."""
        return self._total / len(self._values) if self._values else None

    @property
    def upper(self) -> float | None:
        """Upper edge of the band for the window's size (None when empty)."""
        if not self._values:
            return None
        return self.reference_mean + self.sigmas * self.reference_sd / math.sqrt(len(self._values))

    @property
    def beyond(self) -> bool:
        """Whether the window has ``min_rows`` errors and their mean is above the band."""
        mean, upper = self.mean, self.upper
        return self.rows >= self.min_rows and mean is not None and upper is not None and mean > upper

    def update(self, errors: Iterable[float]) -> None:
        """Add errors in time order (the oldest leave the window)."""
        values = np.asarray(list(errors) if not isinstance(errors, np.ndarray) else errors, float).tolist()
        if len(self._values) + len(values) < self.window:
            # the window does not fill: the running sum, value by value as ever
            total = self._total
            for value in values:
                total += value
            self._total = total
            self._values.extend(values)
            return
        # the window fills: its sum is re-summed whole (a running sum drifts by rounding over
        # millions of updates), so the values that passed through on the way leave no trace in it
        self._values.extend(values)
        self._total = math.fsum(self._values)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "window": self.window,
            "mean": self.mean,
            "reference_mean": self.reference_mean,
            "upper": self.upper,
            "sigmas": self.sigmas,
            "beyond": self.beyond,
        }
