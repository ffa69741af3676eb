"""Regression performance without labels: direct loss estimation (DLE, as NannyML does it).

On the labelled reference, two gradient-boosted trees learn the model's loss from its inputs: one
the absolute error ``|target - prediction|``, one the squared error, each from the features and the
prediction (NannyML fits LightGBM; this uses scikit-learn's histogram gradient boosting, the same
kind of model with the same defaults: 100 trees, 31 leaves, learning rate 0.1). Those two fitted
models are the part's state. A profile then only sums, row by row, the predicted absolute and
squared errors of the current inputs, so the estimate streams chunk by chunk and adds up like every
other part: ``MAE = sum(predicted |error|) / rows`` and ``RMSE = sqrt(sum(predicted error^2) / rows)``.

**Only where labels are missing, on a bounded sample.** A row whose target is known has a realized
error, which the performance section reports; the estimate covers the rows of the current data
without a target. Of those, at most :data:`SAMPLE_ROWS` rows of each chunk, drawn with a fixed
seed, go through the loss models, and the chunk's sums are scaled to its rows (a stratified
sample, one stratum per chunk: unbiased, and its standard error is reported as
``sampling_error``). A window of the online service is made of small chunks and is estimated on
every row. On 1M rows in three chunks of the benchmark, 30,000 rows are predicted instead of 2M
(both files), and the estimate moves by less than its standard error, about 0.3% of the MAE
(``tests/engine/test_dle.py::test_a_sampled_estimate_is_within_its_stated_error_of_every_rows``).
The reference's own estimate, the baseline, is taken the same way from labelled reference rows the
loss models were not fitted on (the fitted ones when there are no others).
When every row of the current data has its target (a frame or a parquet file, whose target
column alone is read to find out: :func:`every_row_labelled`), nothing is left to estimate and the
loss models are not fitted at all: on the 1M-row benchmark that was two gradient-boosting fits
(``tests/engine/test_dle.py::test_no_loss_model_is_fitted_when_every_current_row_has_its_target``).

This sees what a shift of the inputs does to the error (a move towards inputs where the model was
less accurate on the reference), with no target at all. It is blind to concept change: if the
relation between inputs and target moves, the reference's error model no longer holds. Trees do not
extrapolate: beyond the reference's range of an input, the error is estimated as at its edge.

>>> import numpy as np, pandas as pd
>>> from modelmon.engine.profile import ProfileSpec
>>> from modelmon.schema import Schema
>>> rng = np.random.default_rng(0)
>>> def frame(rows, low):
...     x = rng.uniform(low, 2.0, rows)
...     return pd.DataFrame({"x": x, "pred": x, "y": x + rng.normal(0, 1, rows) * (0.2 + x)})
>>> schema = Schema(numerical=["x"], prediction="pred", target="y")
>>> spec = ProfileSpec.fit(frame(5_000, low=0.0), schema, parts=["dle"])
>>> current = frame(5_000, low=1.0)                       # only inputs where the error is larger
>>> estimated = estimate_losses(DLEPart.build(current.drop(columns="y"), spec))
>>> realized = float(np.abs(current["y"] - current["pred"]).mean())
>>> bool(abs(estimated["mae"] / realized - 1) < 0.1)
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np

from modelmon.engine.boosted_trees import boosted_predict
from modelmon.engine.columns import NumericalColumn
from modelmon.engine.floats import as_floats
from modelmon.engine.performance import compare_metrics
from modelmon.engine.report import ReportInputs
from modelmon.errors import SchemaError
from modelmon.schema import Schema

if TYPE_CHECKING:
    import pandas as pd

    from modelmon.engine.profile import Profile, ProfileSpec
    from modelmon.reading.plan import Data, ReadPlan

__all__ = [
    "FIT_ROWS",
    "MIN_DLE_ROWS",
    "SAMPLE_ROWS",
    "DLEPart",
    "DLEState",
    "dle_performance",
    "estimate_losses",
    "every_row_labelled",
    "sampling_error",
]

#: labelled reference rows needed to fit the loss models
MIN_DLE_ROWS = 100
#: the loss models are fitted on at most this many reference rows (drawn with a fixed seed)
FIT_ROWS = 50_000
#: rows of a chunk (without a target) whose losses are predicted, drawn with a fixed seed
SAMPLE_ROWS = 10_000
_REALIZED = "every current row with a prediction has its target: its errors are realized, not estimated"
#: categories of a categorical feature the loss models see by name (the tree learner's limit)
MAX_CATEGORIES = 250


def _one_thread() -> Any:
    """The tree learner on one OpenMP thread: on a busy machine its spinning threads made a fit of
    5,000 rows take 8 s instead of 0.5 s, and profiles already run columns on threads of their own."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


def _predict(model: Any, design: np.ndarray) -> np.ndarray:
    """The loss model's predictions, its trees called on one thread without ``predict``'s costs
    around them (:mod:`~modelmon.engine.boosted_trees`), or ``predict`` itself on one thread."""
    predicted = boosted_predict(model, design)
    if predicted is None:
        with _one_thread():
            predicted = np.asarray(model.predict(design))
    return predicted


def _design(frame: pd.DataFrame, state: DLEState) -> np.ndarray:
    """The loss models' input matrix: numerical features, category codes, then the prediction."""
    columns = []
    for name in state.inputs:
        if name not in frame.columns:
            columns.append(np.full(len(frame), np.nan))
        elif name in state.categories:
            from modelmon.engine.columns import label_slots

            index = {label: i for i, label in enumerate(state.categories[name])}
            slots = label_slots(frame[name], index, other=-1, missing=-1).astype(np.float64)
            columns.append(np.where(slots < 0, np.nan, slots))
        else:
            values = as_floats(frame[name])
            columns.append(np.where(np.isfinite(values), values, np.nan))
    return np.column_stack(columns) if columns else np.empty((len(frame), 0))


@dataclass
class DLEState:
    """The two fitted loss models, how to read a frame for them, and the reference's estimate."""

    inputs: tuple[str, ...]
    categories: dict[str, tuple[str, ...]]
    absolute: Any
    squared: Any
    prediction: str
    target: str
    reference: DLEPart | None = None

    @classmethod
    def fit(cls, reference: pd.DataFrame, spec: ProfileSpec) -> DLEState | None:
        """``None`` unless the model is a regression with a prediction and a target and the
        reference has at least ``MIN_DLE_ROWS`` rows with both."""
        schema = spec.schema
        if schema.task != "regression" or schema.prediction is None or schema.target is None:
            return None
        if schema.prediction not in reference.columns or schema.target not in reference.columns:
            return None
        from sklearn.ensemble import HistGradientBoostingRegressor

        prediction, target = _numbers(reference, schema.prediction), _numbers(reference, schema.target)
        labelled = np.flatnonzero(np.isfinite(prediction) & np.isfinite(target))
        if len(labelled) < MIN_DLE_ROWS:
            return None
        fitted = labelled
        if len(labelled) > FIT_ROWS:
            fitted = np.sort(np.random.default_rng(0).choice(labelled, FIT_ROWS, replace=False))
        rows = reference.iloc[fitted]
        # a feature without one value among the fitted rows (an all-null column) cannot be binned
        features = [name for name in schema.features if name in rows.columns and rows[name].notna().any()]
        categories = {
            name: spec.categories[name][:MAX_CATEGORIES] for name in features if name in spec.categories
        }
        state = cls((*features, schema.prediction), categories, None, None, schema.prediction, schema.target)
        design = _design(rows, state)
        error = target[fitted] - prediction[fitted]
        mask = np.array([name in categories for name in state.inputs])

        def model(loss: np.ndarray) -> Any:
            # LightGBM's defaults, as NannyML uses them; no early stopping, so no held-out split
            learner = HistGradientBoostingRegressor(
                max_iter=100,
                learning_rate=0.1,
                max_leaf_nodes=31,
                min_samples_leaf=20,
                categorical_features=mask if mask.any() else None,
                early_stopping=False,
                random_state=0,
            )
            return learner.fit(design, loss)

        with _one_thread():
            state.absolute, state.squared = model(np.abs(error)), model(error**2)
        # the baseline: labelled rows the models did not learn from, else the fitted ones
        unseen = np.setdiff1d(labelled, fitted, assume_unique=True)
        baseline = unseen if len(unseen) >= MIN_DLE_ROWS else labelled
        state.reference = state.estimate(reference, baseline)
        return state

    def estimate(
        self, frame: pd.DataFrame, rows: np.ndarray, unscored: int = 0, labelled: int = 0
    ) -> DLEPart:
        """The part of ``rows`` (positions in ``frame``): their losses predicted on at most
        :data:`SAMPLE_ROWS` of them, the sums scaled to all of them."""
        return self.estimate_groups(frame, [(rows, unscored, labelled)])[0]

    def estimate_groups(
        self, frame: pd.DataFrame, groups: Sequence[tuple[np.ndarray, int, int]]
    ) -> list[DLEPart]:
        """:meth:`estimate` of each ``(rows, unscored, labelled)``, the loss models called once for
        all of them (a row's predicted loss does not depend on the rows predicted with it)."""
        picked = []
        for rows, _, _ in groups:
            if len(rows) > SAMPLE_ROWS:
                rows = np.sort(np.random.default_rng(len(rows)).choice(rows, SAMPLE_ROWS, replace=False))
            picked.append(rows)
        taken = np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64)
        if len(taken):
            design = _design(frame.iloc[taken], self)
            absolute_all = np.clip(_predict(self.absolute, design), 0.0, None)
            squared_all = np.clip(_predict(self.squared, design), 0.0, None)
        parts, offset = [], 0
        for (rows, unscored, labelled), chosen in zip(groups, picked, strict=True):
            total = len(rows)
            if not total:
                parts.append(DLEPart(unscored=unscored, labelled=labelled))
                continue
            absolute = absolute_all[offset : offset + len(chosen)]
            squared = squared_all[offset : offset + len(chosen)]
            offset += len(chosen)
            parts.append(
                DLEPart(
                    total * float(absolute.mean()),
                    total * float(squared.mean()),
                    total,
                    unscored,
                    labelled,
                    len(chosen),
                    _sum_variance(absolute, total),
                    _sum_variance(squared, total),
                )
            )
        return parts


def _numbers(frame: pd.DataFrame, name: str) -> np.ndarray:
    return as_floats(frame[name])


def _sum_variance(values: np.ndarray, total: int) -> float:
    """Sampling variance of ``total x mean(values)`` as an estimate of the sum over ``total`` rows
    (a simple random sample without replacement; 0 when every row was taken)."""
    taken = len(values)
    if taken >= total or taken < 2:
        return 0.0
    return float(total**2 * (1 - taken / total) * values.var(ddof=1) / taken)


@dataclass
class DLEPart:
    """Estimated sums of the absolute and squared errors of the rows with a prediction and no
    target; rows with a target are only counted (their errors are realized, not estimated)."""

    absolute_sum: float = 0.0
    squared_sum: float = 0.0
    rows: int = 0
    unscored: int = 0
    labelled: int = 0
    sampled: int = 0
    absolute_variance: float = 0.0
    squared_variance: float = 0.0

    @classmethod
    def fit(cls, reference: pd.DataFrame, spec: ProfileSpec) -> DLEState | None:
        return DLEState.fit(reference, spec)

    @classmethod
    def build(cls, frame: pd.DataFrame, spec: ProfileSpec) -> DLEPart | None:
        return cls.build_slices(frame, spec, [0, len(frame)])[0]

    @classmethod
    def build_slices(
        cls, frame: pd.DataFrame, spec: ProfileSpec, bounds: Sequence[int]
    ) -> list[DLEPart | None]:
        """The part of each slice ``frame.iloc[bounds[i]:bounds[i + 1]]``, as :meth:`build` of it alone."""
        state = spec.state.get("dle")
        ranges = list(pairwise(bounds))
        if not isinstance(state, DLEState):
            return [None] * len(ranges)
        if state.prediction not in frame.columns:  # a row without a prediction has no error to estimate
            return [cls(unscored=end - start) for start, end in ranges]
        predicted = np.isfinite(_numbers(frame, state.prediction))
        if state.target in frame.columns:
            known = predicted & np.isfinite(_numbers(frame, state.target))
        else:
            known = np.zeros(len(frame), dtype=bool)
        estimated = predicted & ~known
        groups = [
            (
                start + np.flatnonzero(estimated[start:end]),
                int(end - start - predicted[start:end].sum()),
                int(known[start:end].sum()),
            )
            for start, end in ranges
        ]
        return list(state.estimate_groups(frame, groups))

    def __add__(self, other: DLEPart) -> DLEPart:
        if not isinstance(other, DLEPart):
            raise SchemaError(f"cannot add a DLE part and {type(other).__name__}")
        theirs = other.to_dict()
        return DLEPart(**{name: value + theirs[name] for name, value in self.to_dict().items()})

    def to_dict(self) -> dict[str, Any]:
        return {
            "absolute_sum": self.absolute_sum,
            "squared_sum": self.squared_sum,
            "rows": self.rows,
            "unscored": self.unscored,
            "labelled": self.labelled,
            "sampled": self.sampled,
            "absolute_variance": self.absolute_variance,
            "squared_variance": self.squared_variance,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DLEPart:
        return cls(
            float(data["absolute_sum"]),
            float(data["squared_sum"]),
            int(data["rows"]),
            int(data["unscored"]),
            int(data.get("labelled", 0)),
            int(data.get("sampled", data["rows"])),
            float(data.get("absolute_variance", 0.0)),
            float(data.get("squared_variance", 0.0)),
        )


def estimate_losses(part: DLEPart) -> dict[str, float | None]:
    """Estimated MAE and RMSE of the rows summed in ``part``."""
    if not part.rows:
        return {"mae": None, "rmse": None}
    return {"mae": part.absolute_sum / part.rows, "rmse": float(np.sqrt(part.squared_sum / part.rows))}


def sampling_error(part: DLEPart) -> dict[str, float | None]:
    """Standard errors of :func:`estimate_losses` that come from estimating on a sample of the rows
    (0 when every row was estimated); the RMSE's by the delta method."""
    losses = estimate_losses(part)
    if losses["mae"] is None or losses["rmse"] is None:
        return {"mae": None, "rmse": None}
    mean_squared_error = np.sqrt(part.squared_variance) / part.rows
    rmse = losses["rmse"]
    return {
        "mae": float(np.sqrt(part.absolute_variance) / part.rows),
        "rmse": float(mean_squared_error / (2 * rmse)) if rmse > 0 else 0.0,
    }


def every_row_labelled(current: Data, schema: Schema, plan: ReadPlan) -> bool:
    """Whether every row of ``current`` (a frame or a parquet file) has a target, so that nothing
    is left to estimate and the loss models need not be fitted: its target column alone is read,
    chunk by chunk, up to the first row without one. ``False`` when that cannot be told cheaply
    (a CSV file is parsed whole to read one column) or there is no target column.

    >>> import pandas as pd
    >>> from modelmon.reading.plan import ReadPlan
    >>> schema = Schema(numerical=["x"], prediction="pred", target="y")
    >>> frame = pd.DataFrame({"x": [1.0, 2.0], "pred": [1.0, 2.0], "y": [1.5, None]})
    >>> every_row_labelled(frame, schema, ReadPlan()), every_row_labelled(frame.dropna(), schema, ReadPlan())
    (False, True)
    """
    import pandas as pd

    from modelmon.reading.files import file_columns, file_format

    target = schema.target
    if target is None:
        return False
    if isinstance(current, pd.DataFrame):
        if target not in current.columns:
            return False
    elif file_format(current) != "parquet" or target not in file_columns(current):
        return False
    return all(bool(np.isfinite(_numbers(chunk, target)).all()) for chunk in plan.chunks(current, [target]))


def _realized(profile: Profile) -> dict[str, Any] | None:
    """Why nothing is estimated when every current row has its target (the loss models may then
    not have been fitted at all, :func:`every_row_labelled`); ``None`` otherwise."""
    schema = profile.spec.schema
    target = profile.columns.get(schema.target) if schema.target else None
    prediction = profile.columns.get(schema.prediction) if schema.prediction else None
    # every row counted with a finite target (a column absent from the data counts no row)
    if not profile.rows or not isinstance(target, NumericalColumn) or target.count != profile.rows:
        return None
    return {
        "applicable": False,
        "estimated": True,
        "reason": _REALIZED,
        "labelled_rows": prediction.count if isinstance(prediction, NumericalColumn) else 0,
    }


def dle_performance(inputs: ReportInputs) -> dict[str, Any]:
    """The ``estimated`` block of the performance section for a regression, or why it does not apply."""
    state = inputs.reference.spec.state.get("dle")
    current = inputs.current.parts.get("dle")
    realized = _realized(inputs.current)
    if realized is not None:
        return realized
    if not isinstance(state, DLEState) or state.reference is None or current is None:
        reason = (
            "needs a regression with a prediction and a target column, and at least "
            f"{MIN_DLE_ROWS} labelled reference rows to fit the loss models on"
        )
        return {"applicable": False, "estimated": True, "reason": reason}
    if not current.rows:
        reason = "no rows with a prediction in the current data"
        if current.labelled:
            reason = _REALIZED
        return {"applicable": False, "estimated": True, "reason": reason, "labelled_rows": current.labelled}
    now, before = estimate_losses(current), estimate_losses(state.reference)
    delta, relative = compare_metrics(now, before)
    return {
        "applicable": True,
        "estimated": True,
        "method": "DLE",
        "current": now,
        "reference": before,
        "delta": delta,
        "relative_change": relative,
        "rows": current.rows,
        "unscored_rows": current.unscored,
        "labelled_rows": current.labelled,
        "sampled_rows": current.sampled,
        "sampling_error": sampling_error(current),
        "note": (
            "estimated for the rows without a target, from models of the absolute and squared error "
            "fitted on the reference (gradient-boosted trees over the features and the prediction), "
            f"on at most {SAMPLE_ROWS:,} rows of each chunk; valid while the relation between "
            "inputs and target holds, blind to concept change"
        ),
    }
