"""The values of Evidently's old monitoring-service series, computed from profiles.

Each function returns ``(series name, labels, value)`` samples for one old monitor, with the old
names (``evidently:<monitor>:<metric>``, without the ``dataset_name`` label the collector adds)
and the old meaning, except where the old service exported something it should not have:

- ``data_drift:p_value`` is always a p-value, from the test the old service chose for small
  references (KS for numerical columns with more than 5 values, chi-square for more than 2 values,
  the Z-test for two), read from the profiles. The old service switched to Wasserstein and
  Jensen-Shannon *distances* above 1000 reference rows and still called them ``p_value``.
- ``data_drift:value``, the name Evidently 0.1.58 gave ``p_value``, carries the same p-values.
- chi-square compares the current counts with the reference shares; the old code passed the two
  to scipy in the wrong order.
- ``regression_performance:quality{metric="abs_perc_error_std"}`` is in percent, as
  ``mean_abs_perc_error`` is; Evidently 0.1.54 and later exported it as a fraction (100 times
  smaller) beside a mean in percent.

As in the old service, the data-drift columns are the features plus the target and the prediction
when the reference has them, and a column is drifted when its p-value is below 0.05.

>>> import numpy as np, pandas as pd
>>> from modelmon.engine.profile import ProfileSpec
>>> from modelmon.schema import Schema
>>> rng = np.random.default_rng(3)
>>> schema = Schema(numerical=["distance"], categorical=["zone"], prediction="duration")
>>> def rides(shift):
...     return pd.DataFrame({"distance": rng.normal(3 + shift, 1, 400), "zone": rng.choice(["a", "b"], 400),
...                          "duration": rng.normal(10, 2, 400)})
>>> spec, reference = ProfileSpec.fit_profile(rides(0), schema)
>>> samples = {(name, labels.get("feature")): value for name, labels, value in
...            data_drift(reference, spec.profile(rides(1.5)))}
>>> samples["data_drift:n_drifted_features", None], samples["data_drift:p_value", "distance"] < 1e-10
(1.0, True)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from modelmon.engine.drift.registry import DRIFT_TESTS
from modelmon.engine.drift.select import default_method
from modelmon.engine.profile import Profile

__all__ = [
    "P_VALUE_THRESHOLD",
    "Sample",
    "cat_target_drift",
    "classification_performance",
    "data_drift",
    "num_target_drift",
    "regression_performance",
]

Sample = tuple[str, dict[str, str], float]
#: the old default significance level
P_VALUE_THRESHOLD = 0.05
#: the old service's names of its tests, its ``stat_test`` label values
_TEST_NAMES = {"ks": "K-S p_value", "chisquare": "chi-square p_value", "z": "Z-test p_value"}


def _p_value(reference: Profile, current: Profile, column: str) -> tuple[str, float] | None:
    """The old test's name and p-value for one column, None when a side has no value."""
    ref, cur = reference.columns.get(column), current.columns.get(column)
    if ref is None or cur is None or ref.count == 0 or cur.count == 0:
        return None
    method = default_method(ref, cur, small=True)  # always a p-value test, as for small references
    spec = reference.spec
    exact = spec.exact.get(column, not spec.truncated.get(column, False))
    _, p_value = DRIFT_TESTS[method].function(ref, cur, exact)
    return _TEST_NAMES[method], float(p_value if p_value is not None else np.nan)


def _feature_type(reference: Profile, column: str) -> str:
    return "num" if reference.columns[column].kind == "numerical" else "cat"


def data_drift(reference: Profile, current: Profile) -> list[Sample]:
    """``data_drift:*``: per-column p-values, the number and share of drifted columns, dataset drift."""
    schema = reference.spec.schema
    columns = [*schema.categorical, *schema.numerical]  # the old order: categorical first
    columns += [name for name in (schema.target, schema.prediction) if name and name not in columns]
    samples: list[Sample] = []
    drifted = tested = 0
    for column in columns:
        result = _p_value(reference, current, column)
        if result is None:
            continue
        test, p_value = result
        tested += 1
        drifted += bool(p_value < P_VALUE_THRESHOLD)
        labels = {"feature": column, "feature_type": _feature_type(reference, column), "stat_test": test}
        samples.append(("data_drift:p_value", labels, p_value))
        # Evidently 0.1.58 renamed the series `value` (its dashboards kept querying `p_value`)
        samples.append(("data_drift:value", labels, p_value))
    if tested:
        share = drifted / tested
        samples += [
            ("data_drift:share_drifted_features", {}, share),
            ("data_drift:n_drifted_features", {}, float(drifted)),
            ("data_drift:dataset_drift", {}, float(share >= 0.5)),
        ]
    return samples


def _correlations(sample: pd.DataFrame | None, main: str, features: list[str]) -> dict[str, float]:
    if sample is None or main not in sample.columns:
        return {}
    columns = [name for name in dict.fromkeys([*features, main]) if name in sample.columns]
    numbers = sample[columns].apply(pd.to_numeric, errors="coerce")
    if numbers[main].notna().sum() < 2:
        return {}
    correlations = numbers.corr()[main]
    return {str(name): float(value) for name, value in correlations.items() if np.isfinite(value)}


def _kinds(reference: Profile) -> list[tuple[str, str]]:
    schema = reference.spec.schema
    return [
        (kind, name) for kind, name in (("prediction", schema.prediction), ("target", schema.target)) if name
    ]


def num_target_drift(
    reference: Profile,
    current: Profile,
    reference_sample: pd.DataFrame | None,
    current_sample: pd.DataFrame | None,
) -> list[Sample]:
    """``num_target_drift:*``: row counts, the prediction's and target's p-values, feature correlations."""
    samples: list[Sample] = [
        ("num_target_drift:count", {"dataset": "reference"}, float(reference.rows)),
        ("num_target_drift:count", {"dataset": "current"}, float(current.rows)),
    ]
    features = list(reference.spec.schema.numerical)
    for kind, column in _kinds(reference):
        result = _p_value(reference, current, column)
        if result is not None:
            samples.append(("num_target_drift:drift", {"kind": kind}, result[1]))
        for which, frame in (("reference", reference_sample), ("current", current_sample)):
            for feature, value in _correlations(frame, column, features).items():
                labels = {"feature": feature, "feature_type": "num", "kind": kind}
                samples.append((f"num_target_drift:{which}_correlations", labels, value))
    return samples


def cat_target_drift(reference: Profile, current: Profile) -> list[Sample]:
    """``cat_target_drift:*``: row counts and the prediction's and target's p-values.

    The old service labelled the reference's row count ``dataset="prediction"``; kept, so that
    its dashboards draw the same lines.
    """
    samples: list[Sample] = [
        ("cat_target_drift:count", {"dataset": "prediction"}, float(reference.rows)),
        ("cat_target_drift:count", {"dataset": "current"}, float(current.rows)),
    ]
    for kind, column in _kinds(reference):
        result = _p_value(reference, current, column)
        if result is not None:
            samples.append(("cat_target_drift:drift", {"kind": kind}, result[1]))
    return samples


def _sample_std(mean_square: float, mean: float, n: int) -> float:
    """The standard deviation with ddof=1 of ``n`` values from their mean and mean square."""
    return float(np.sqrt(max(mean_square - mean**2, 0.0) * n / (n - 1)))


def _regression_quality(counts: Any, dataset: str) -> Iterator[Sample]:
    n, pct_n = counts.n, counts.pct_n
    if n < 2:
        return
    mean_error, mae = counts.sum_error / n, counts.sum_abs_error / n
    mean_square = counts.sum_sq_error / n
    mape = counts.sum_abs_pct_error / pct_n if pct_n else None
    values = {
        "mean_error": mean_error,
        "mean_abs_error": mae,
        # in percent, as the old service (modelmon's mape is a fraction); rows with a zero target skipped
        "mean_abs_perc_error": None if mape is None else 100 * mape,
        # the old std used ddof=1; |e|^2 = e^2, so the absolute error's spread comes from the same sums
        "error_std": _sample_std(mean_square, mean_error, n),
        "abs_error_std": _sample_std(mean_square, mae, n),
        # the old np.std(abs_perc_err, ddof=1) (the sample std), over the rows the mean reads
        "abs_perc_error_std": (
            100 * _sample_std(counts.sum_sq_abs_pct_error / pct_n, mape, pct_n)
            if mape is not None and pct_n >= 2
            else None
        ),
    }
    for metric, value in values.items():
        if value is not None:
            yield "regression_performance:quality", {"dataset": dataset, "metric": metric}, float(value)


def _errors(sample: pd.DataFrame | None, prediction: str, target: str) -> pd.DataFrame | None:
    if sample is None or prediction not in sample.columns or target not in sample.columns:
        return None
    numbers = sample.copy()
    numbers[prediction] = pd.to_numeric(numbers[prediction], errors="coerce")
    numbers[target] = pd.to_numeric(numbers[target], errors="coerce")
    labelled = numbers.dropna(subset=[prediction, target])
    if len(labelled) < 3:
        return None
    return labelled.assign(__error=labelled[prediction] - labelled[target])


def _first_mode(values: pd.Series) -> Any:
    """The most frequent value, the first one seen among ties (as the old service; ``mode()`` would
    take the smallest); None without a value.

    >>> _first_mode(pd.Series(["b", "a", "a", "b", None])), _first_mode(pd.Series([None])) is None
    ('b', True)
    """
    valid = values.dropna()
    if valid.empty:
        return None
    counts = valid.map(valid.value_counts())
    return valid[counts == counts.max()].iloc[0]


def _error_bias(
    rows: pd.DataFrame, numerical: list[str], categorical: list[str], prefix: str
) -> Iterator[Sample]:
    """The old error-bias table: feature means (modes) over all rows, the 5% most under- and 5% most
    over-predicted rows, and the range between those."""
    error = rows["__error"]
    under, over = rows[error <= error.quantile(0.05)], rows[error >= error.quantile(0.95)]
    for feature in numerical:
        values = pd.to_numeric(rows[feature], errors="coerce")
        low, high = (
            float(pd.to_numeric(under[feature], errors="coerce").mean()),
            float(pd.to_numeric(over[feature], errors="coerce").mean()),
        )
        spread = float(values.max() - values.min())
        bias_range = 0.0 if low == high or spread == 0 else 100 * abs(high - low) / spread
        for field, value in (
            ("majority", values.mean()),
            ("under", low),
            ("over", high),
            ("range", bias_range),
        ):
            if np.isfinite(value):
                labels = {"feature": feature, "feature_type": "num", "metric": f"{prefix}{field}"}
                yield "regression_performance:feature_error_bias", labels, float(value)
    for feature in categorical:
        modes = [_first_mode(part[feature]) for part in (rows, under, over)]
        if any(mode is None for mode in modes):
            continue
        overall, low, high = modes
        fields = {"range": float(not overall == low == high)}
        # the old service exported the modes too when they were numbers (it skipped text values)
        for field, value in (("majority", overall), ("under", low), ("over", high)):
            number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
            if np.isfinite(number):
                fields[field] = float(number)
        for field, value in fields.items():
            labels = {"feature": feature, "feature_type": "cat", "metric": f"{prefix}{field}"}
            yield "regression_performance:feature_error_bias", labels, value


def _error_shape(rows: pd.DataFrame, dataset: str) -> Iterator[Sample]:
    """``error_normality`` (the Q-Q line of the errors) and ``underperformance`` (5% / 95% tails)."""
    import scipy.stats

    error = rows["__error"].to_numpy(dtype=float)
    (_, _), (slope, intercept, r) = scipy.stats.probplot(error, dist="norm")
    for metric, value in (("slope", slope), ("intercept", intercept), ("r", r)):
        yield "regression_performance:error_normality", {"dataset": dataset, "metric": metric}, float(value)
    low, high = np.quantile(error, 0.05), np.quantile(error, 0.95)
    groups = {
        "majority": error[(error > low) & (error < high)],
        "underestimation": error[error <= low],
        "overestimation": error[error >= high],
    }
    for kind, values in groups.items():
        stats = {"mean_error": values.mean() if len(values) else np.nan}
        stats["std_error"] = values.std(ddof=1) if len(values) > 1 else np.nan
        for metric, value in stats.items():
            if np.isfinite(value):
                labels = {"dataset": dataset, "metric": metric, "type": kind}
                yield "regression_performance:underperformance", labels, float(value)


def regression_performance(
    reference: Profile,
    current: Profile,
    reference_sample: pd.DataFrame | None,
    current_sample: pd.DataFrame | None,
) -> list[Sample]:
    """``regression_performance:*``: error statistics from the profiles' error sums; the error's
    shape and the error-bias table from the row samples (the window keeps raw rows only as a sample)."""
    schema = reference.spec.schema
    samples: list[Sample] = []
    for dataset, profile in (("reference", reference), ("current", current)):
        part = profile.parts.get("performance")
        if part is not None and hasattr(part.counts, "sum_sq_error"):
            samples += _regression_quality(part.counts, dataset)
    if schema.prediction is None or schema.target is None:
        return samples
    for dataset, frame in (("reference", reference_sample), ("current", current_sample)):
        rows = _errors(frame, schema.prediction, schema.target)
        if rows is not None:
            samples += _error_shape(rows, dataset)
            prefix = "ref_" if dataset == "reference" else "current_"
            samples += _error_bias(rows, list(schema.numerical), list(schema.categorical), prefix)
    return samples


def _class_samples(counts: Any, dataset: str) -> Iterator[Sample]:
    names = [*counts.labels, "other"]
    confusion = np.asarray(counts.confusion, dtype=float)  # true x predicted
    # the classes present as a target or a prediction, as the old classification report listed them
    keep = [i for i in range(len(names)) if confusion[i].sum() + confusion[:, i].sum()]
    confusion, names = confusion[np.ix_(keep, keep)], [names[i] for i in keep]
    total = confusion.sum()
    if total == 0:
        return
    true_positive = np.diag(confusion)
    actual, predicted = confusion.sum(axis=1), confusion.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, true_positive / predicted, 0.0)
        recall = np.where(actual > 0, true_positive / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    present = (actual + predicted) > 0  # scikit-learn's macro average: over labels present
    quality = {
        "accuracy": true_positive.sum() / total,
        "precision": precision[present].mean(),
        "recall": recall[present].mean(),
        "f1": f1[present].mean(),
    }
    tag = "classification_performance"
    for metric, value in quality.items():
        yield f"{tag}:quality", {"dataset": dataset, "metric": metric}, float(value)
    for i, name in enumerate(names):
        for metric, value in (("precision", precision[i]), ("recall", recall[i]), ("f1", f1[i])):
            yield (
                f"{tag}:class_quality",
                {"dataset": dataset, "class_name": name, "metric": metric},
                float(value),
            )
        for kind, value in (("target", actual[i]), ("prediction", predicted[i])):
            yield (
                f"{tag}:class_representation",
                {"dataset": dataset, "class_name": name, "type": kind},
                float(value),
            )
        false_positive, false_negative = predicted[i] - true_positive[i], actual[i] - true_positive[i]
        cells = {
            "TP": true_positive[i],
            "FP": false_positive,
            "TN": total - true_positive[i] - false_positive - false_negative,
            "FN": false_negative,
        }
        for metric, value in cells.items():
            yield (
                f"{tag}:class_confusion",
                {"dataset": dataset, "class_name": name, "metric": metric},
                float(value),
            )
        for j, other in enumerate(names):
            labels = {"dataset": dataset, "class_x_name": name, "class_y_name": other}
            yield f"{tag}:confusion", labels, float(confusion[i, j])


def classification_performance(reference: Profile, current: Profile) -> list[Sample]:
    """``classification_performance:*``: macro quality, per-class quality and confusion, from the
    profiles' confusion counts."""
    samples: list[Sample] = []
    for dataset, profile in (("reference", reference), ("current", current)):
        part = profile.parts.get("performance")
        if part is not None and hasattr(part.counts, "confusion"):
            samples += _class_samples(part.counts, dataset)
    return samples
