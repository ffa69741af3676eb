"""Drift of embedding sets: the schema's ``embeddings: {name: [columns]}`` compared as one space each.

An embedding set is either several numerical columns (one coordinate each) or one column whose
cells are equal-length vectors (lists or arrays, as parquet list columns read back). Each set is
tested on the bounded row samples of the report (at most 5,000 rows a side; online, the window's
sample), by one of the tests of :data:`EMBEDDING_TESTS`:

==========  ===============================================  =====================================
method      test                                             drift when
==========  ===============================================  =====================================
``model``   Evidently's default: a linear domain classifier  AUC > 0.55 (reference < 1000 rows:
            (:mod:`~modelmon.engine.drift.embeddings_classifier`)  AUC > random AUCs' 95th pct)
``mmd``     maximum mean discrepancy, RBF kernel, median     permutation p < 0.01
            heuristic (:mod:`~modelmon.engine.drift.embeddings_mmd`)
==========  ===============================================  =====================================

The default is ``model``, as in Evidently; ``DriftSettings(embeddings={"name": {"method": "mmd"}})``
chooses per set (a ``threshold`` may go with it). MMD's p-value threshold is 0.01, not the column
tests' 0.05: a set is one test over a whole space whose verdict is read as an alarm, and at 0.05 one
stationary comparison in twenty would raise it. Rows with a missing coordinate are left out. With
fewer current rows than the method needs (:data:`MIN_ROWS`) the set reports ``insufficient_data``
and no verdict, as the column tests do.

>>> import numpy as np, pandas as pd
>>> from modelmon.config import DriftSettings
>>> rng = np.random.default_rng(0)
>>> frame = lambda shift: pd.DataFrame(rng.normal(shift, 1.0, size=(400, 3)), columns=["e0", "e1", "e2"])
>>> result = embeddings_drift({"text": ("e0", "e1", "e2")}, frame(0.0), frame(0.5),
...                           DriftSettings(embeddings={"text": {"method": "mmd"}}))
>>> result["text"]["method"], result["text"]["detected"], result["text"]["dimensions"]
('mmd', True, 3)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelmon.config import DriftSettings
from modelmon.errors import ConfigError, InputError

__all__ = ["EMBEDDING_TESTS", "MIN_ROWS", "EmbeddingTest", "embedding_matrix", "embeddings_drift"]


def _model(
    reference: np.ndarray, current: np.ndarray, threshold: float, reference_rows: int
) -> dict[str, Any]:
    from modelmon.engine.drift.embeddings_classifier import classifier_test

    return classifier_test(reference, current, threshold=threshold, reference_rows=reference_rows)


def _mmd(reference: np.ndarray, current: np.ndarray, threshold: float, reference_rows: int) -> dict[str, Any]:
    from modelmon.engine.drift.embeddings_mmd import mmd_test

    return mmd_test(reference, current, threshold=threshold)


@dataclass(frozen=True)
class EmbeddingTest:
    """A drift test over an embedding space: ``function(reference, current, threshold, reference_rows)``."""

    name: str
    threshold: float
    min_rows: int
    function: Callable[[np.ndarray, np.ndarray, float, int], dict[str, Any]]
    description: str


#: the one table of embedding drift tests; the first is the default
EMBEDDING_TESTS: dict[str, EmbeddingTest] = {
    "model": EmbeddingTest("model", 0.55, 100, _model, "domain classifier ROC AUC (Evidently's default)"),
    "mmd": EmbeddingTest("mmd", 0.01, 30, _mmd, "maximum mean discrepancy, permutation p-value"),
}
#: current rows each method needs for a verdict: the classifier's held-out half needs both
#: samples in it; MMD's permutation p-value is exact at any size but has no power below 30
MIN_ROWS = {name: test.min_rows for name, test in EMBEDDING_TESTS.items()}


def embedding_matrix(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> np.ndarray:
    """The set's rows as a ``(rows, dimensions)`` float array, rows with a missing value left out."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InputError(f"embeddings {name!r}: column(s) {missing} are not in the data")
    if len(columns) == 1 and frame[columns[0]].map(lambda v: isinstance(v, list | tuple | np.ndarray)).any():
        cells = [np.asarray(value, dtype=float) for value in frame[columns[0]] if value is not None]
        lengths = {len(cell) for cell in cells if cell.ndim == 1}
        if len(lengths) != 1 or any(cell.ndim != 1 for cell in cells):
            raise InputError(
                f"embeddings {name!r}: column {columns[0]!r} must hold vectors of one length, got lengths "
                f"{sorted(lengths)}"
            )
        rows = np.vstack(cells)
    else:
        rows = frame[list(columns)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    return rows[np.isfinite(rows).all(axis=1)]


def _choose(name: str, settings: DriftSettings) -> tuple[EmbeddingTest, float]:
    override = settings.embeddings.get(name, {})
    if not isinstance(override, Mapping) or set(override) - {"method", "threshold"}:
        raise ConfigError(
            f"drift.embeddings.{name}: expected {{method: NAME, threshold: NUMBER}}, got {override!r}"
        )
    method = override.get("method") or next(iter(EMBEDDING_TESTS))
    if method not in EMBEDDING_TESTS:
        raise ConfigError(
            f"drift.embeddings.{name}.method: unknown method {method!r}; valid: {', '.join(EMBEDDING_TESTS)}"
        )
    test = EMBEDDING_TESTS[method]
    threshold = override.get("threshold")
    return test, float(test.threshold if threshold is None else threshold)


def embeddings_drift(
    embeddings: Mapping[str, tuple[str, ...]],
    reference: pd.DataFrame,
    current: pd.DataFrame,
    settings: DriftSettings | None = None,
    reference_rows: int | None = None,
) -> dict[str, Any]:
    """``{name: {method, score, threshold, detected, p_value, ...}}`` for every embedding set."""
    settings = settings if settings is not None else DriftSettings()
    unknown = sorted(set(settings.embeddings) - set(embeddings))
    if unknown:
        raise ConfigError(
            f"drift.embeddings: {unknown} are not embedding sets of the schema ({sorted(embeddings)})"
        )
    results: dict[str, Any] = {}
    for name, columns in embeddings.items():
        test, threshold = _choose(name, settings)
        x, y = embedding_matrix(reference, columns, name), embedding_matrix(current, columns, name)
        base = {
            "method": test.name,
            "threshold": threshold,
            "columns": list(columns),
            "dimensions": int(x.shape[1]) if x.ndim == 2 else 0,
            "rows_reference": len(x),
            "rows_current": len(y),
            "min_rows": test.min_rows,
        }
        if len(x) < test.min_rows or len(y) < test.min_rows:
            results[name] = {
                **base,
                "score": None,
                "detected": None,
                "p_value": None,
                "insufficient_data": True,
                "note": (
                    f"insufficient data: {test.name} needs {test.min_rows} rows with every coordinate "
                    "on each side"
                ),
            }
            continue
        outcome = test.function(x, y, threshold, reference_rows if reference_rows is not None else len(x))
        results[name] = {**base, **outcome, "insufficient_data": False, "description": test.description}
    return results
