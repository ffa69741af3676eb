"""Which drift test and threshold each column gets, and the Benjamini-Hochberg correction.

The default follows Evidently's ``get_default_stattest`` rule for rule, so results are comparable.
``n`` is the reference's number of valid values (Evidently drops missing values first) and ``u`` the
number of distinct values in both samples together (see
:func:`~modelmon.engine.drift.binning.distinct_values`):

====================  ===========================================  ===========================
reference             numerical                                    categorical
====================  ===========================================  ===========================
``n <= 1000``         ``u <= 2``: Z-test; ``u <= 5``: chi-square;  ``u <= 2``: Z-test;
                      else KS (drift when p < 0.05)                else chi-square (p < 0.05)
``n > 1000``          ``u <= 5``: Jensen-Shannon; else normed      Jensen-Shannon (score >= 0.1)
                      Wasserstein (score >= 0.1)
====================  ===========================================  ===========================

Settings override this, most specific first: a column's ``method`` and ``threshold``, then the
global ``method`` and ``threshold``, then the default method and that method's own threshold (as
Evidently's per-feature, all-features and default options).

>>> import numpy as np
>>> from modelmon.engine.columns import NumericalColumn
>>> values = np.arange(2000.0)
>>> column = NumericalColumn.from_values(values, values)
>>> default_method(column, column)
'wasserstein'
>>> default_method(column, column, small=True)
'ks'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from modelmon.config import DriftSettings
from modelmon.engine.columns import NumericalColumn
from modelmon.engine.drift.binning import Column, distinct_values
from modelmon.engine.drift.registry import DRIFT_TESTS, DriftTest, resolve_method
from modelmon.errors import ConfigError

__all__ = [
    "CORRECTIONS",
    "FEW_VALUES",
    "SMALL_REFERENCE",
    "benjamini_hochberg",
    "check_settings",
    "choose",
    "default_method",
    "settled_by_reference",
]

#: references with at most this many valid values get p-value tests (Evidently's rule)
SMALL_REFERENCE = 1000
#: numerical columns with at most this many distinct values are compared as categories
FEW_VALUES = 5
#: p-value corrections across columns: "bh" (Benjamini-Hochberg) or none
CORRECTIONS = ("bh",)


def default_method(reference: Column, current: Column, small: bool | None = None) -> str:
    """Evidently's default test for this pair of columns (``small``: override the size rule)."""
    small = reference.count <= SMALL_REFERENCE if small is None else small
    distinct = distinct_values(reference, current)
    if isinstance(reference, NumericalColumn):
        if small:
            if distinct <= FEW_VALUES:
                return "chisquare" if distinct > 2 else "z"
            return "ks"
        return "jensenshannon" if distinct <= FEW_VALUES else "wasserstein"
    if small:
        return "chisquare" if distinct > 2 else "z"
    return "jensenshannon"


def _threshold(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value) or value < 0:
        raise ConfigError(f"{where}: expected a non-negative number, got {value!r}")
    return float(value)


def check_settings(settings: DriftSettings, kinds: Mapping[str, str]) -> None:
    """Fail early, naming the key, on an unknown method, column or correction, or a bad threshold."""
    if settings.method is not None:
        resolve_method(settings.method)
    if settings.threshold is not None:
        _threshold(settings.threshold, "drift.threshold")
    if settings.correction not in (None, *CORRECTIONS):
        raise ConfigError(
            f"drift.correction: unknown correction {settings.correction!r}; valid: {', '.join(CORRECTIONS)} "
            "or null"
        )
    minimum = settings.min_rows
    if minimum is not None and (isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 0):
        raise ConfigError(f"drift.min_rows: expected a whole number of rows >= 0 or null, got {minimum!r}")
    share = settings.dataset_share
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
        raise ConfigError(f"drift.dataset_share: expected a share between 0 and 1, got {share!r}")
    for column, override in settings.columns.items():
        where = f"drift.columns.{column}"
        if column not in kinds:
            raise ConfigError(f"{where}: no such column; monitored columns: {', '.join(kinds) or 'none'}")
        if not isinstance(override, Mapping) or set(override) - {"method", "threshold"}:
            raise ConfigError(f"{where}: expected {{method: NAME, threshold: NUMBER}}, got {override!r}")
        if override.get("threshold") is not None:
            _threshold(override["threshold"], f"{where}.threshold")
        # a column's own method must fit it; the global one falls back per column (see choose)
        method = override.get("method")
        if method is not None:
            test = DRIFT_TESTS[resolve_method(method)]
            if kinds[column] not in test.applies_to:
                raise ConfigError(
                    f"{where}: method {test.name!r} applies to {' and '.join(test.applies_to)} columns, "
                    f"and {column!r} is {kinds[column]}"
                )


def choose(
    column: str, reference: Column, current: Column, settings: DriftSettings
) -> tuple[DriftTest, float, str | None]:
    """The test and threshold for one column (settings already checked), and a note when the global
    method does not apply to this column's kind (say KS on a category) and the default is used."""
    override = settings.columns.get(column, {})
    method = override.get("method") or settings.method
    global_threshold, note = settings.threshold, None
    if method is None:
        test = DRIFT_TESTS[default_method(reference, current)]
    else:
        test = DRIFT_TESTS[resolve_method(method)]
        if reference.kind not in test.applies_to:
            note = f"{test.name} does not apply to {reference.kind} columns; the default test is used"
            test, global_threshold = DRIFT_TESTS[default_method(reference, current)], None
    for threshold in (override.get("threshold"), global_threshold):
        if threshold is not None:
            return test, float(threshold), note
    return test, test.threshold, note


def settled_by_reference(column: str, reference: Column, settings: DriftSettings) -> bool:
    """Whether :func:`choose` gives this column the same test, threshold and note whatever the
    current side holds, so a caller testing the same reference again may keep its choice.

    A method that applies to the column never reads the current side. The default rule reads it only
    through the distinct values of both samples together, which are at least the reference's own
    (the reference's counts are the same whatever it is paired with), and changes its answer only at
    2 and :data:`FEW_VALUES` distinct values: beyond those, the reference alone decides.

    >>> import numpy as np
    >>> from modelmon.engine.columns import NumericalColumn
    >>> values = np.arange(8.0)
    >>> settled_by_reference("x", NumericalColumn.from_values(values, values), DriftSettings())
    True
    >>> settled_by_reference("x", NumericalColumn.from_values(values, values % 3), DriftSettings())
    False
    """
    override = settings.columns.get(column, {})
    method = override.get("method") or settings.method
    if method is not None and reference.kind in DRIFT_TESTS[resolve_method(method)].applies_to:
        return True
    return distinct_values(reference, reference) > FEW_VALUES


def benjamini_hochberg(p_values: Iterable[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values, as ``scipy.stats.false_discovery_control`` computes them.

    Sorted ascending, ``p_(i) * m / i``, made non-decreasing from the largest down, capped at 1.
    Detecting drift where the adjusted p-value is below the threshold keeps the expected share of
    false alarms among the drifted columns under the threshold.

    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.5]).round(3).tolist()
    [0.04, 0.053, 0.053, 0.5]
    """
    values = np.asarray(list(p_values), dtype=np.float64)
    if values.size == 0:
        return values
    order = np.argsort(values)
    ranked = values[order] * values.size / np.arange(1, values.size + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    adjusted = np.empty_like(values)
    adjusted[order] = np.minimum(ranked, 1.0)
    return adjusted
