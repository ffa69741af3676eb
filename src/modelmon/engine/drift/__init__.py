"""Data drift between a reference profile and a current profile, column by column.

Drift tests read profiles only, never raw rows, so a test costs the same for a thousand rows as for
a billion. Each test lives in its own module and is listed in :data:`DRIFT_TESTS`; the default
choice per column follows Evidently's rules (:mod:`modelmon.engine.drift.select`).

Prediction, probability and target columns are tested like features (prediction and target drift,
marked by ``role``), but the dataset drift decision counts *features* only: drift is declared when
the share of drifted features among those that could be tested is at least ``dataset_share`` (0.5,
Evidently's ``drift_share``, also compared with ``>=``). Evidently's share is over the columns it is
given (its legacy column mapping adds target and prediction); we leave them out so that a
prediction shift that only follows a feature shift is not counted twice. A column with no valid
value on either side is reported, with a note, as not detected and is left out of that share.

With ``correction: bh`` in the settings, the p-values of every column tested with a p-value test
are adjusted together (Benjamini-Hochberg, :func:`~modelmon.engine.drift.select.benjamini_hochberg`)
and such a column is detected when its *adjusted* p-value is below its threshold; ``p_value`` keeps
the raw value and ``p_value_adjusted`` the adjusted one.

Quiet warm-up: a column with fewer valid current values than its test needs
(:data:`~modelmon.engine.drift.minimum.MIN_ROWS`) is reported with ``insufficient_data: true`` and
``detected: null`` (its score is still given), and is left out of the share; while the current
data has fewer rows than the largest minimum among the features' tests, ``dataset_drift`` is null
with ``insufficient_data: true``. So a window that is still filling never reports chance drift.

>>> import numpy as np, pandas as pd
>>> from modelmon.engine.profile import ProfileSpec
>>> from modelmon.schema import Schema
>>> rng = np.random.default_rng(7)
>>> def frame(shift):
...     return pd.DataFrame({"distance": rng.normal(5 + shift, 1, 500), "hour": rng.integers(0, 24, 500),
...                          "zone": rng.choice(["a", "b", "c"], 500)})
>>> spec = ProfileSpec.fit(frame(0), Schema(numerical=["distance", "hour"], categorical=["zone"]))
>>> result = data_drift(spec.profile(frame(0)), spec.profile(frame(shift=1.0)))
>>> {name: (column.method, column.detected) for name, column in result.columns.items()}
{'distance': ('ks', True), 'hour': ('ks', False), 'zone': ('chisquare', False)}
>>> result.drifted_count, result.dataset_drift
(1, False)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelmon.config import DriftSettings
from modelmon.engine.columns import CategoricalColumn
from modelmon.engine.drift.registry import DRIFT_TESTS, DriftTest
from modelmon.engine.drift.select import benjamini_hochberg, check_settings, choose, settled_by_reference
from modelmon.engine.drift.tails import approximation
from modelmon.errors import InputError, SchemaError

if TYPE_CHECKING:
    from modelmon.engine.profile import Profile

__all__ = ["DRIFT_TESTS", "Choice", "ColumnDrift", "DriftResult", "DriftTest", "data_drift"]


@dataclass
class ColumnDrift:
    """The drift test result of one column.

    ``score`` is the test's statistic for p-value tests (KS ``D``, chi-square, ``z``) and the
    distance for distance tests; ``p_value`` is None for distance tests, never a distance.
    ``rows_reference`` and ``rows_current`` count the valid values that were compared.
    """

    column: str
    kind: str
    role: str
    method: str
    score: float | None
    threshold: float
    detected: bool | None
    p_value: float | None
    rows_reference: int
    rows_current: int
    note: str | None = None
    p_value_adjusted: float | None = None
    #: what the score approximates and its bound (categorical tails); None when the score is exact
    approximation: dict[str, Any] | None = None
    #: valid current values the test needs for a verdict; fewer gives ``detected=None``
    min_rows: int = 0

    @property
    def tested(self) -> bool:
        return self.score is not None

    @property
    def insufficient_data(self) -> bool:
        """Whether the test ran on fewer current values than it needs: no verdict is given."""
        return self.tested and self.rows_current < self.min_rows

    def to_dict(self) -> dict[str, Any]:
        score = self.score if self.score is None or math.isfinite(self.score) else None
        note = self.note
        if self.score is not None and score is None:
            note = "; ".join(filter(None, [note, "infinite statistic: values the reference never had"]))
        return {
            "method": self.method,
            "score": score,
            "threshold": self.threshold,
            "detected": self.detected,
            "p_value": self.p_value,
            "p_value_adjusted": self.p_value_adjusted,
            "kind": self.kind,
            "role": self.role,
            "rows_reference": self.rows_reference,
            "rows_current": self.rows_current,
            "min_rows": self.min_rows,
            "insufficient_data": self.insufficient_data,
            "note": note,
            "approximation": self.approximation,
        }


@dataclass
class DriftResult:
    """Per-column drift and the dataset drift decision (over features)."""

    columns: dict[str, ColumnDrift] = field(default_factory=dict)
    share_threshold: float = 0.5
    correction: str | None = None
    #: rows of the current data, and the rows the features' tests need before a dataset verdict
    current_rows: int = 0
    min_rows: int = 0

    @property
    def tested_features(self) -> list[ColumnDrift]:
        """Features whose test ran on enough values to give a verdict."""
        return [
            column
            for column in self.columns.values()
            if column.role == "feature" and column.tested and not column.insufficient_data
        ]

    @property
    def insufficient_data(self) -> bool:
        """Whether the current data has fewer rows than the features' tests need (no dataset verdict)."""
        return self.current_rows < self.min_rows

    @property
    def drifted_count(self) -> int:
        return sum(bool(column.detected) for column in self.tested_features)

    @property
    def drifted_share(self) -> float | None:
        """The share of tested features that drifted; ``None`` when no feature could be tested."""
        tested = len(self.tested_features)
        return self.drifted_count / tested if tested else None

    @property
    def dataset_drift(self) -> bool | None:
        """``None`` (no verdict) while the data is too short for the tests or when no feature could
        be tested: a drift check that tested nothing must not read as "no drift"."""
        share = self.drifted_share
        if self.insufficient_data or share is None:
            return None
        return share >= self.share_threshold

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_drift": self.dataset_drift,
            "insufficient_data": self.insufficient_data,
            "min_rows": self.min_rows,
            "drifted_share": self.drifted_share,
            "drifted_count": self.drifted_count,
            "share_threshold": self.share_threshold,
            "tested_features": len(self.tested_features),
            "correction": self.correction,
            "columns": {name: column.to_dict() for name, column in self.columns.items()},
        }


def _role(profile: Profile, column: str) -> str:
    schema = profile.spec.schema
    if column in schema.features:
        return "feature"
    if column == schema.prediction:
        return "prediction"
    if column in schema.probabilities:
        return "probability"
    return "target" if column == schema.target else "feature"


def _untested(reference: Profile, current: Profile, column: str) -> str | None:
    if reference.columns[column].count == 0:
        return "no reference values"
    if current.columns[column].count == 0:
        if column in current.absent_columns:
            return "no current values: the column is absent from the current data"
        return "no current values"
    return None


#: a column's test, threshold and note (:func:`~modelmon.engine.drift.select.choose`)
Choice = tuple[DriftTest, float, str | None]


def _column_drift(
    reference: Profile,
    current: Profile,
    column: str,
    settings: DriftSettings,
    choices: dict[str, Choice] | None = None,
) -> ColumnDrift:
    reference_column, current_column = reference.columns[column], current.columns[column]
    chosen = None if choices is None else choices.get(column)
    if chosen is None:
        chosen = choose(column, reference_column, current_column, settings)
        if choices is not None and settled_by_reference(column, reference_column, settings):
            choices[column] = chosen
    test, threshold, note = chosen
    untested = _untested(reference, current, column)
    score: float | None = None
    p_value: float | None = None
    min_rows = test.min_rows if settings.min_rows is None else int(settings.min_rows)
    if untested is None:
        spec = reference.spec
        exact = spec.exact.get(column, not spec.truncated.get(column, False))
        score, p_value = test.function(reference_column, current_column, exact)
    approximated = None
    if isinstance(reference_column, CategoricalColumn) and isinstance(current_column, CategoricalColumn):
        tail = reference.spec.tails.get(column)
        approximated = approximation(test.name, reference_column, current_column, tail, score)
    result = ColumnDrift(
        column=column,
        kind=reference_column.kind,
        role=_role(reference, column),
        method=test.name,
        score=score,
        threshold=threshold,
        detected=score is not None and test.detected(score, p_value, threshold),
        p_value=p_value,
        rows_reference=reference_column.count,
        rows_current=current_column.count,
        note="; ".join(filter(None, [note, untested])) or None,
        approximation=approximated,
        min_rows=min_rows,
    )
    if result.insufficient_data:
        result.detected = None
        result.note = "; ".join(
            filter(None, [result.note, f"insufficient data: {test.name} needs {min_rows} current values"])
        )
    return result


def _correct(columns: dict[str, ColumnDrift]) -> None:
    """Benjamini-Hochberg across every column tested with a p-value test."""
    family = [column for column in columns.values() if column.p_value is not None]
    for column, adjusted in zip(family, benjamini_hochberg(c.p_value for c in family), strict=True):  # type: ignore[misc]
        column.p_value_adjusted = float(adjusted)
        column.detected = None if column.insufficient_data else bool(adjusted < column.threshold)


def data_drift(
    reference: Profile,
    current: Profile,
    settings: DriftSettings | None = None,
    columns: Iterable[str] | None = None,
    choices: dict[str, Choice] | None = None,
) -> DriftResult:
    """Test every monitored column (or ``columns``) of ``current`` against ``reference`` for drift.

    ``choices``: the tests chosen in an earlier call with the same ``reference`` and ``settings``
    where the reference alone decided them (:func:`~modelmon.engine.drift.select.settled_by_reference`),
    read instead of choosing again and filled in by this call; a window testing each segment value
    against the same reference on every recompute keeps one per segment value.
    """
    settings = settings if settings is not None else DriftSettings()
    if current.spec is not reference.spec and current.spec.fingerprint != reference.spec.fingerprint:
        raise SchemaError("the reference and current profiles were built against different reference specs")
    kinds = {name: column.kind for name, column in reference.columns.items()}
    check_settings(settings, kinds)
    names = list(reference.columns) if columns is None else list(columns)
    unknown = [name for name in names if name not in kinds]
    if unknown:
        raise InputError(f"cannot test drift of column(s) {unknown}: not profiled; profiled: {list(kinds)}")
    result = DriftResult(
        share_threshold=float(settings.dataset_share),
        correction=settings.correction,
        current_rows=current.rows,
    )
    result.columns = {name: _column_drift(reference, current, name, settings, choices) for name in names}
    features = [c for c in result.columns.values() if c.role == "feature" and c.tested]
    result.min_rows = max((c.min_rows for c in features), default=0)
    if settings.correction == "bh":
        _correct(result.columns)
    return result
