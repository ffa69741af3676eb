"""Mergeable counts behind the performance metrics: error sums (regression), confusion counts and
score histograms (classification).

:func:`modelmon.engine.performance.model_arrays` reads a frame's model columns once into
:class:`ModelArrays`; :class:`RegressionCounts` and :class:`ClassificationCounts` summarise them (or
any subset of their rows, for segments and groups). Counts add exactly, so the metrics of merged
windows, chunks or partitions are the metrics of all their rows.

>>> import numpy as np
>>> arrays = ModelArrays(np.array([1, 0, 1, 1]), np.array([1, 0, 0, -1]), np.zeros(4, dtype=bool))
>>> counts = ClassificationCounts.of(arrays, labels=("0", "1"), positive="1")
>>> counts.labelled, counts.unlabelled, counts.metrics()["accuracy"], counts.metrics()["precision"]
(3, 1, 0.6666666666666666, 0.5)
>>> (counts + counts).metrics() == counts.metrics()
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelmon.engine.columns import category_labels, label_slots, top_labels
from modelmon.errors import SchemaError

__all__ = [
    "MAX_LABELS",
    "N_SCORE_BINS",
    "OTHER",
    "ClassificationCounts",
    "Counts",
    "ModelArrays",
    "RegressionCounts",
    "counts_from_dict",
    "dense_counts",
    "label_of",
    "label_slots",
    "score_bins",
    "sparse_counts",
    "top_labels",
]

#: fixed probability bins on [0, 1] for ROC AUC and the CBPE calibration map
N_SCORE_BINS = 1000
#: classification labels kept by name (the reference's most frequent); the rest count as OTHER
MAX_LABELS = 50
OTHER = "other"
#: probabilities are clipped to [EPS, 1 - EPS] for log loss, as scikit-learn does for float64
EPS = float(np.finfo(np.float64).eps)


def label_of(value: Any) -> str:
    """The string label of one value, as :func:`~modelmon.engine.columns.category_labels` spells it."""
    return category_labels(pd.Series([value], dtype=object))[1][0]


def score_bins(probability: np.ndarray) -> np.ndarray:
    """Bin of each probability in [0, 1] among ``N_SCORE_BINS`` equal bins (1.0 falls in the last)."""
    return np.minimum((probability * N_SCORE_BINS).astype(np.int64), N_SCORE_BINS - 1)


def _at_least_eps(values: np.ndarray) -> np.ndarray:
    return np.maximum(np.abs(values), np.finfo(np.float64).eps)


@dataclass
class ModelArrays:
    """The model's columns of one frame, read once: floats (regression) or label slots (classification).

    Slots index the reference labels; ``len(labels)`` is OTHER and -1 is missing. ``target_invalid``
    marks targets that are present but unusable (text in a numerical target). ``probability`` is
    P(positive class) for a binary classifier (NaN where missing or outside [0, 1]).
    """

    prediction: np.ndarray
    target: np.ndarray
    target_invalid: np.ndarray
    probability: np.ndarray | None = None

    def take(self, rows: np.ndarray | slice | None) -> ModelArrays:
        """The arrays of a subset of rows (a boolean mask or a slice), or all of them for ``None``."""
        if rows is None:
            return self
        probability = None if self.probability is None else self.probability[rows]
        return ModelArrays(self.prediction[rows], self.target[rows], self.target_invalid[rows], probability)


@dataclass
class RegressionCounts:
    """Error sums of a regression model over some rows.

    ``n`` rows have both a target and a prediction; ``unlabelled`` have no target yet; ``invalid``
    have a target but no usable prediction, or a target that is not a number. Errors are
    ``prediction - target`` (positive: the model over-predicts). MAPE skips rows whose target is 0
    (``zero_targets`` counts them) where scikit-learn divides by a tiny epsilon instead; the sum of
    the squared absolute percentage errors over the same rows gives their spread.
    """

    shift: float = 0.0
    rows: int = 0
    predictions: int = 0
    sum_prediction: float = 0.0
    unlabelled: int = 0
    invalid: int = 0
    n: int = 0
    sum_error: float = 0.0
    sum_abs_error: float = 0.0
    sum_sq_error: float = 0.0
    pct_n: int = 0
    sum_abs_pct_error: float = 0.0
    sum_sq_abs_pct_error: float = 0.0
    zero_targets: int = 0
    sum_target: float = 0.0
    sum_target_sq: float = 0.0

    @classmethod
    def of(cls, arrays: ModelArrays, shift: float, rows: np.ndarray | None = None) -> RegressionCounts:
        """Counts of all rows, or of the rows in the boolean mask ``rows``."""
        subset = arrays.take(rows)
        return cls.by_group(subset, shift, np.zeros(len(subset.prediction), dtype=np.int64), 1)[0]

    @classmethod
    def by_group(
        cls, arrays: ModelArrays, shift: float, groups: np.ndarray, count: int
    ) -> list[RegressionCounts]:
        """Counts per group, ``groups`` giving each row's group in ``range(count)``, in one pass."""
        prediction, target, invalid = arrays.prediction, arrays.target, arrays.target_invalid
        has_prediction, has_target = ~np.isnan(prediction), ~np.isnan(target)
        both = has_prediction & has_target
        error = prediction[both] - target[both]
        truth = target[both]
        nonzero = truth != 0
        centred = truth - shift
        labelled = groups[both]
        # as scikit-learn's MAPE, |truth| is at least machine epsilon: a tiny (subnormal) target
        # would otherwise overflow the ratio to infinity
        abs_pct_error = np.abs(error[nonzero]) / _at_least_eps(truth[nonzero])

        def total(
            where: np.ndarray | None = None, weights: np.ndarray | None = None, of: np.ndarray = groups
        ) -> np.ndarray:
            return np.bincount(of if where is None else of[where], weights=weights, minlength=count)

        sums = {
            "rows": total(),
            "predictions": total(has_prediction),
            "sum_prediction": total(has_prediction, prediction[has_prediction]),
            "unlabelled": total(~has_target & ~invalid),
            "invalid": total(invalid | (has_target & ~has_prediction)),
            "n": total(of=labelled),
            "sum_error": total(weights=error, of=labelled),
            "sum_abs_error": total(weights=np.abs(error), of=labelled),
            "sum_sq_error": total(weights=error * error, of=labelled),
            "pct_n": total(nonzero, of=labelled),
            "sum_abs_pct_error": total(nonzero, abs_pct_error, labelled),
            "sum_sq_abs_pct_error": total(nonzero, abs_pct_error * abs_pct_error, labelled),
            "zero_targets": total(~nonzero, of=labelled),
            "sum_target": total(weights=centred, of=labelled),
            "sum_target_sq": total(weights=centred * centred, of=labelled),
        }
        integers = {"rows", "predictions", "unlabelled", "invalid", "n", "pct_n", "zero_targets"}
        fields: list[dict[str, Any]] = [
            {name: int(values[g]) if name in integers else float(values[g]) for name, values in sums.items()}
            for g in range(count)
        ]
        return [cls(shift=shift, **values) for values in fields]

    @property
    def labelled(self) -> int:
        return self.n

    def empty_like(self) -> RegressionCounts:
        """Counts of no rows, addable to these."""
        return RegressionCounts(shift=self.shift)

    def __add__(self, other: RegressionCounts) -> RegressionCounts:
        if not isinstance(other, RegressionCounts) or other.shift != self.shift:
            raise SchemaError("regression counts built against different references cannot be added")
        total = {name: getattr(self, name) + getattr(other, name) for name in _REGRESSION_SUMS}
        return RegressionCounts(shift=self.shift, **total)

    def metrics(self) -> dict[str, float | None]:
        """MAE, RMSE, mean error, MAPE, R2 (``None`` where undefined, e.g. no labelled rows)."""
        if not self.n:
            return dict.fromkeys(("mae", "rmse", "mean_error", "mape", "r2"))
        total_sq = self.sum_target_sq - self.sum_target**2 / self.n
        return {
            "mae": self.sum_abs_error / self.n,
            "rmse": float(np.sqrt(self.sum_sq_error / self.n)),
            "mean_error": self.sum_error / self.n,
            "mape": self.sum_abs_pct_error / self.pct_n if self.pct_n else None,
            "r2": 1.0 - self.sum_sq_error / total_sq if total_sq > 0 else None,
        }

    def mae_standard_error(self) -> float | None:
        """Standard error of the MAE, from the sums of absolute and squared errors."""
        if self.n < 2:
            return None
        mae = self.sum_abs_error / self.n
        variance = max(self.sum_sq_error / self.n - mae**2, 0.0) * self.n / (self.n - 1)
        return float(np.sqrt(variance / self.n))

    def to_dict(self) -> dict[str, Any]:
        return {"task": "regression", "shift": self.shift, **{k: getattr(self, k) for k in _REGRESSION_SUMS}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RegressionCounts:
        return cls(shift=float(data["shift"]), **{name: data[name] for name in _REGRESSION_SUMS})


_REGRESSION_SUMS = tuple(name for name in RegressionCounts.__dataclass_fields__ if name != "shift")


def sparse_counts(values: np.ndarray) -> dict[str, list[Any]]:
    """Nonzero counts of an array as ``{"at": flat positions, "counts": values}`` (short JSON)."""
    flat = values.ravel()
    nonzero = np.flatnonzero(flat)
    return {"at": nonzero.tolist(), "counts": flat[nonzero].tolist()}


def dense_counts(data: Mapping[str, Any], shape: tuple[int, ...]) -> np.ndarray:
    """The integer array of ``shape`` that :func:`sparse_counts` wrote."""
    values = np.zeros(int(np.prod(shape)), dtype=np.int64)
    values[np.asarray(data["at"], dtype=np.int64)] = data["counts"]
    return values.reshape(shape)


@dataclass
class ClassificationCounts:
    """Confusion counts (true x predicted, over the reference labels plus OTHER) and, for a binary
    classifier with probabilities, score histograms per true class and the log-loss sum.

    ``predicted`` counts predictions over every row, labelled or not (selection rates need no
    target). ``invalid`` rows have a target but no prediction; ``unscored`` labelled rows have no
    usable probability.
    """

    labels: tuple[str, ...]
    positive: str
    confusion: np.ndarray
    predicted: np.ndarray
    rows: int = 0
    unlabelled: int = 0
    invalid: int = 0
    score_positive: np.ndarray | None = None
    score_negative: np.ndarray | None = None
    log_loss_sum: float = 0.0
    unscored: int = 0
    slot: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.slot = self.labels.index(self.positive) if self.positive in self.labels else len(self.labels)

    @classmethod
    def of(
        cls, arrays: ModelArrays, labels: tuple[str, ...], positive: str, rows: np.ndarray | None = None
    ) -> ClassificationCounts:
        """Counts of all rows, or of the rows in the boolean mask ``rows``."""
        subset = arrays.take(rows)
        return cls.by_group(subset, labels, positive, np.zeros(len(subset.target), dtype=np.int64), 1)[0]

    @classmethod
    def by_group(
        cls, arrays: ModelArrays, labels: tuple[str, ...], positive: str, groups: np.ndarray, count: int
    ) -> list[ClassificationCounts]:
        """Counts per group, ``groups`` giving each row's group in ``range(count)``, in one pass."""
        size = len(labels) + 1
        predicted, true = arrays.prediction, arrays.target
        has_prediction, has_target = predicted >= 0, true >= 0
        both = has_prediction & has_target
        cells = (groups[both] * size + true[both]) * size + predicted[both]
        confusion = np.bincount(cells, minlength=count * size * size).reshape(count, size, size)
        chosen = groups[has_prediction] * size + predicted[has_prediction]
        per_label = np.bincount(chosen, minlength=count * size).reshape(count, size)
        rows = np.bincount(groups, minlength=count)
        unlabelled = np.bincount(groups[~has_target], minlength=count)
        invalid = np.bincount(groups[has_target & ~has_prediction], minlength=count)
        result = [
            cls(
                labels,
                positive,
                confusion[g],
                per_label[g],
                int(rows[g]),
                int(unlabelled[g]),
                int(invalid[g]),
            )
            for g in range(count)
        ]
        if arrays.probability is not None:
            _score(result, arrays.probability, true, has_target, groups)
        return result

    def empty_like(self) -> ClassificationCounts:
        """Counts of no rows, addable to these."""
        empty = ClassificationCounts(
            self.labels, self.positive, np.zeros_like(self.confusion), np.zeros_like(self.predicted)
        )
        if self.score_positive is not None:
            empty.score_positive = np.zeros(N_SCORE_BINS, dtype=np.int64)
            empty.score_negative = np.zeros(N_SCORE_BINS, dtype=np.int64)
        return empty

    @property
    def labelled(self) -> int:
        """Rows with both a target and a prediction."""
        return int(self.confusion.sum())

    @property
    def binary(self) -> bool:
        return len(self.labels) <= 2

    def __add__(self, other: ClassificationCounts) -> ClassificationCounts:
        if (
            not isinstance(other, ClassificationCounts)
            or other.labels != self.labels
            or other.positive != self.positive
            or (other.score_positive is None) != (self.score_positive is None)
        ):
            raise SchemaError("classification counts built against different references cannot be added")
        total = ClassificationCounts(
            self.labels,
            self.positive,
            self.confusion + other.confusion,
            self.predicted + other.predicted,
            rows=self.rows + other.rows,
            unlabelled=self.unlabelled + other.unlabelled,
            invalid=self.invalid + other.invalid,
            log_loss_sum=self.log_loss_sum + other.log_loss_sum,
            unscored=self.unscored + other.unscored,
        )
        if self.score_positive is not None and other.score_positive is not None:
            total.score_positive = self.score_positive + other.score_positive
            total.score_negative = self.score_negative + other.score_negative  # type: ignore[operator]
        return total

    def binary_counts(self) -> tuple[int, int, int, int]:
        """``(tp, fp, fn, tn)`` with the positive class against every other label."""
        tp = int(self.confusion[self.slot, self.slot])
        fp = int(self.confusion[:, self.slot].sum()) - tp
        fn = int(self.confusion[self.slot, :].sum()) - tp
        return tp, fp, fn, self.labelled - tp - fp - fn

    def selection_rate(self) -> float | None:
        """Share of predictions that are the positive class, over every row with a prediction."""
        total = int(self.predicted.sum())
        return int(self.predicted[self.slot]) / total if total else None

    def metrics(self) -> dict[str, float | None]:
        """Accuracy, precision, recall, F1 (binary: of the positive class; else macro), ROC AUC and
        log loss (binary with probabilities). ``None`` where a metric is undefined, e.g. binary
        precision with no positive prediction, where scikit-learn warns and returns 0."""
        names = ("accuracy", "precision", "recall", "f1")
        if not self.labelled:
            return dict.fromkeys(names) | self._score_metrics()
        accuracy = float(np.trace(self.confusion)) / self.labelled
        if self.binary:
            tp, fp, fn, _ = self.binary_counts()
            values = (
                accuracy,
                _ratio(tp, tp + fp),
                _ratio(tp, tp + fn),
                _ratio(2 * tp, 2 * tp + fp + fn),
            )
        else:
            values = (accuracy, *_macro(self.confusion))
        return dict(zip(names, values, strict=True)) | self._score_metrics()

    def _score_metrics(self) -> dict[str, float | None]:
        if self.score_positive is None or self.score_negative is None:
            return {}
        scored = int(self.score_positive.sum() + self.score_negative.sum())
        return {
            "roc_auc": self._roc_auc()[0],
            "log_loss": self.log_loss_sum / scored if scored else None,
        }

    def _roc_auc(self) -> tuple[float | None, float | None]:
        if self.score_positive is None or self.score_negative is None:
            return None, None
        if not self.score_positive.sum() or not self.score_negative.sum():
            return None, None
        return roc_auc_from_histograms(self.score_positive, self.score_negative)

    def roc_auc_error_bound(self) -> float | None:
        """How far the binned ROC AUC can be from the exact one (see :func:`roc_auc_from_histograms`)."""
        return self._roc_auc()[1]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "task": "classification",
            "labels": list(self.labels),
            "positive": self.positive,
            "confusion": sparse_counts(self.confusion),
            "predicted": self.predicted.tolist(),
            "rows": self.rows,
            "unlabelled": self.unlabelled,
            "invalid": self.invalid,
            "log_loss_sum": self.log_loss_sum,
            "unscored": self.unscored,
        }
        if self.score_positive is not None and self.score_negative is not None:
            data["score_positive"] = sparse_counts(self.score_positive)
            data["score_negative"] = sparse_counts(self.score_negative)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClassificationCounts:
        labels = tuple(data["labels"])
        size = len(labels) + 1
        counts = cls(
            labels,
            data["positive"],
            dense_counts(data["confusion"], (size, size)),
            np.asarray(data["predicted"], dtype=np.int64),
            rows=int(data["rows"]),
            unlabelled=int(data["unlabelled"]),
            invalid=int(data["invalid"]),
            log_loss_sum=float(data["log_loss_sum"]),
            unscored=int(data["unscored"]),
        )
        if "score_positive" in data:
            counts.score_positive = dense_counts(data["score_positive"], (N_SCORE_BINS,))
            counts.score_negative = dense_counts(data["score_negative"], (N_SCORE_BINS,))
        return counts


def _score(
    counts: list[ClassificationCounts],
    probability: np.ndarray,
    true: np.ndarray,
    has_target: np.ndarray,
    groups: np.ndarray,
) -> None:
    """Fill the score histograms and log-loss sums of each group's counts."""
    count, slot = len(counts), counts[0].slot
    scored = has_target & ~np.isnan(probability)
    score, is_positive, group = probability[scored], true[scored] == slot, groups[scored]
    cells = group * N_SCORE_BINS + score_bins(score)
    shape = (count, N_SCORE_BINS)
    positive = np.bincount(cells[is_positive], minlength=count * N_SCORE_BINS).reshape(shape)
    negative = np.bincount(cells[~is_positive], minlength=count * N_SCORE_BINS).reshape(shape)
    # as scikit-learn: clip P(positive), then the true class's probability is p or 1 - p
    clipped = np.clip(score, EPS, 1 - EPS)
    loss = np.bincount(group, weights=-np.log(np.where(is_positive, clipped, 1 - clipped)), minlength=count)
    unscored = np.bincount(groups[has_target & ~scored], minlength=count)
    for g, item in enumerate(counts):
        item.score_positive, item.score_negative = positive[g], negative[g]
        item.log_loss_sum, item.unscored = float(loss[g]), int(unscored[g])


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _macro(confusion: np.ndarray) -> tuple[float, float, float]:
    """Macro precision, recall and F1 over the labels present in targets or predictions, with
    scikit-learn's ``zero_division=0``: a label never predicted has precision 0."""
    tp = np.diag(confusion).astype(np.float64)
    predicted, actual = confusion.sum(axis=0), confusion.sum(axis=1)
    present = (predicted + actual) > 0
    tp, predicted, actual = tp[present], predicted[present], actual[present]
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    f1 = np.divide(2 * tp, predicted + actual, out=np.zeros_like(tp), where=(predicted + actual) > 0)
    return float(precision.mean()), float(recall.mean()), float(f1.mean())


def roc_auc_from_histograms(positive: np.ndarray, negative: np.ndarray) -> tuple[float, float]:
    """ROC AUC from score histograms of the positive and negative class, and its error bound.

    A pair (positive, negative) in different bins is ordered exactly; a pair in the same bin is
    counted as a tie (one half), so the result differs from the exact (scikit-learn) value by at
    most ``0.5 * sum_b pos_b * neg_b / (P * N)``, the returned bound. Fractional counts (expected
    labels, as CBPE uses) work the same way.

    >>> round(roc_auc_from_histograms(np.array([0, 1, 3]), np.array([2, 1, 0]))[0], 4)
    0.9583
    """
    positive, negative = positive.astype(np.float64), negative.astype(np.float64)
    pairs = positive.sum() * negative.sum()
    below = np.cumsum(negative) - negative
    same = float(np.dot(positive, negative))
    auc = (float(np.dot(positive, below)) + 0.5 * same) / float(pairs)
    return float(auc), float(0.5 * same / pairs)


Counts = RegressionCounts | ClassificationCounts


def counts_from_dict(data: Mapping[str, Any]) -> Counts:
    """Regression or classification counts from their ``to_dict``."""
    if data["task"] == "regression":
        return RegressionCounts.from_dict(data)
    return ClassificationCounts.from_dict(data)
