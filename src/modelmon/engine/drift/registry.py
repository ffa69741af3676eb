"""The one table of drift tests: name -> :class:`DriftTest`.

Names are Evidently's, so that a config written for Evidently keeps its meaning; a few common
spellings are accepted through :data:`ALIASES`. Each test is added here explicitly.

>>> DRIFT_TESTS["wasserstein"].kind, DRIFT_TESTS["wasserstein"].threshold
('distance', 0.1)
>>> DRIFT_TESTS["ks"].detected(0.01, 0.03, 0.05)
True
>>> resolve_method("js")
'jensenshannon'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from modelmon.engine.drift.binning import Column
from modelmon.engine.drift.chisquare import chisquare
from modelmon.engine.drift.hellinger import hellinger
from modelmon.engine.drift.jensenshannon import jensenshannon
from modelmon.engine.drift.kl import kl_div
from modelmon.engine.drift.ks import ks
from modelmon.engine.drift.minimum import MIN_ROWS
from modelmon.engine.drift.psi import psi
from modelmon.engine.drift.wasserstein import wasserstein
from modelmon.engine.drift.ztest import ztest
from modelmon.errors import ConfigError

__all__ = ["ALIASES", "DRIFT_TESTS", "DriftTest", "resolve_method"]

TestFunction = Callable[[Column, Column, bool], tuple[float, float | None]]
BOTH = ("numerical", "categorical")


@dataclass(frozen=True)
class DriftTest:
    """A drift test: a p-value test detects drift when ``p < threshold``, a distance when
    ``score >= threshold``. ``function(reference, current, exact)`` returns ``(score, p_value)``,
    with ``p_value`` None for distances."""

    name: str
    kind: Literal["p_value", "distance"]
    threshold: float
    applies_to: tuple[str, ...]
    function: TestFunction
    description: str
    #: valid current values the test needs before its verdict means something (see select.MIN_ROWS)
    min_rows: int = 0

    def detected(self, score: float, p_value: float | None, threshold: float) -> bool:
        if self.kind == "p_value":
            return p_value is not None and p_value < threshold
        return score >= threshold


DRIFT_TESTS: dict[str, DriftTest] = {
    "ks": DriftTest("ks", "p_value", 0.05, ("numerical",), ks, "Kolmogorov-Smirnov", MIN_ROWS["ks"]),
    "chisquare": DriftTest(
        "chisquare", "p_value", 0.05, BOTH, chisquare, "chi-square", MIN_ROWS["chisquare"]
    ),
    "z": DriftTest("z", "p_value", 0.05, BOTH, ztest, "Z-test for two proportions", MIN_ROWS["z"]),
    "wasserstein": DriftTest(
        "wasserstein",
        "distance",
        0.1,
        ("numerical",),
        wasserstein,
        "Wasserstein distance (normed)",
        MIN_ROWS["wasserstein"],
    ),
    "jensenshannon": DriftTest(
        "jensenshannon",
        "distance",
        0.1,
        BOTH,
        jensenshannon,
        "Jensen-Shannon distance",
        MIN_ROWS["jensenshannon"],
    ),
    "psi": DriftTest("psi", "distance", 0.1, BOTH, psi, "population stability index", MIN_ROWS["psi"]),
    "kl_div": DriftTest(
        "kl_div", "distance", 0.1, BOTH, kl_div, "Kullback-Leibler divergence", MIN_ROWS["kl_div"]
    ),
    "hellinger": DriftTest(
        "hellinger", "distance", 0.1, BOTH, hellinger, "Hellinger distance", MIN_ROWS["hellinger"]
    ),
}

ALIASES = {
    "kolmogorov_smirnov": "ks",
    "chi2": "chisquare",
    "chi_square": "chisquare",
    "ztest": "z",
    "z_test": "z",
    "js": "jensenshannon",
    "jensen_shannon": "jensenshannon",
    "kl": "kl_div",
    "wasserstein_norm": "wasserstein",
}


def resolve_method(name: str) -> str:
    """The registered name of a drift test, or a :class:`ConfigError` listing the valid ones."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in DRIFT_TESTS:
        raise ConfigError(f"unknown drift method {name!r}; valid methods: {', '.join(DRIFT_TESTS)}")
    return key
