"""The old series' values against scipy and scikit-learn on the raw rows (tolerances stated per test)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score

from modelmon.compat import evidently_series as series
from modelmon.engine.profile import ProfileSpec
from modelmon.schema import Schema


def _by_feature(samples, name="data_drift:p_value"):
    return {labels["feature"]: (labels, value) for metric, labels, value in samples if metric == name}


def _rides(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "distance": rng.gamma(2.0, 1.5 + shift, rows),
            "zone": rng.choice(["a", "b", "c", "d"], rows, p=[0.4, 0.3, 0.2 - shift / 10, 0.1 + shift / 10]),
            "night": rng.choice(["no", "yes"], rows, p=[0.7 - shift / 5, 0.3 + shift / 5]),
            "duration": rng.normal(12 + shift, 3, rows),
        }
    )


SCHEMA = Schema(numerical=["distance"], categorical=["zone", "night"], target="duration")


@pytest.mark.parametrize("reference_rows", [400, 3000])
def test_p_value_is_the_old_tests_p_value_on_the_raw_rows(reference_rows):
    """KS (numerical), chi-square (more than two values) and Z (two values) as scipy computes them on the
    raw rows, whatever the reference's size: the old service exported distances above 1000 rows."""
    reference, current = _rides(reference_rows, 0), _rides(300, 1, shift=0.5)
    spec, reference_profile = ProfileSpec.fit_profile(reference, SCHEMA)
    samples = _by_feature(series.data_drift(reference_profile, spec.profile(current)))
    assert list(samples) == ["zone", "night", "distance", "duration"]  # the old order, target included

    labels, p_value = samples["distance"]
    assert labels == {"feature": "distance", "feature_type": "num", "stat_test": "K-S p_value"}
    expected = scipy.stats.ks_2samp(reference["distance"], current["distance"]).pvalue
    # exact edges up to 1000 reference values; quantile bins above: within 10% (relative) of scipy
    assert p_value == pytest.approx(expected, rel=1e-9 if reference_rows <= 1000 else 0.1)

    labels, p_value = samples["zone"]
    assert labels["stat_test"] == "chi-square p_value" and labels["feature_type"] == "cat"
    keys = sorted(set(reference["zone"]))
    ref_counts = reference["zone"].value_counts().reindex(keys).to_numpy()
    cur_counts = current["zone"].value_counts().reindex(keys, fill_value=0).to_numpy()
    expected_counts = ref_counts / ref_counts.sum() * cur_counts.sum()
    assert p_value == pytest.approx(scipy.stats.chisquare(cur_counts, expected_counts).pvalue, rel=1e-9)

    labels, p_value = samples["night"]
    assert labels["stat_test"] == "Z-test p_value"
    n1, n2 = len(reference), len(current)
    p1, p2 = (reference["night"] == "yes").mean(), (current["night"] == "yes").mean()
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    assert p_value == pytest.approx(2 * scipy.stats.norm.sf(abs(z)), rel=1e-9)

    for _, value in samples.values():
        assert 0.0 <= value <= 1.0  # a p-value, never a distance
    renamed = _by_feature(series.data_drift(reference_profile, spec.profile(current)), "data_drift:value")
    assert renamed == samples  # Evidently 0.1.58's name for the same series


def test_drifted_count_share_and_dataset_drift_follow_the_p_values():
    reference, current = _rides(800, 0), _rides(400, 2, shift=1.5)
    spec, reference_profile = ProfileSpec.fit_profile(reference, SCHEMA)
    samples = series.data_drift(reference_profile, spec.profile(current))
    p_values = [value for _, (_, value) in _by_feature(samples).items()]
    totals = {name: value for name, labels, value in samples if not labels}
    drifted = sum(value < 0.05 for value in p_values)
    assert drifted >= 2
    assert totals["data_drift:n_drifted_features"] == drifted
    assert totals["data_drift:share_drifted_features"] == pytest.approx(drifted / len(p_values))
    assert totals["data_drift:dataset_drift"] == float(drifted / len(p_values) >= 0.5)


def test_regression_quality_equals_numpy_on_the_raw_errors():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"x": rng.normal(size=600), "t": rng.uniform(5, 20, 600)})
    frame["p"] = frame["t"] + rng.normal(0.5, 2.0, 600)
    schema = Schema(numerical=["x"], prediction="p", target="t")
    spec, reference = ProfileSpec.fit_profile(frame.iloc[:300], schema)
    current = spec.profile(frame.iloc[300:])
    quality = {
        labels["metric"]: value
        for name, labels, value in series.regression_performance(reference, current, None, None)
        if name == "regression_performance:quality" and labels["dataset"] == "current"
    }
    error = (frame["p"] - frame["t"]).iloc[300:]  # the old sign: prediction - target
    expected = {
        "mean_error": error.mean(),
        "mean_abs_error": error.abs().mean(),
        "mean_abs_perc_error": (100 * error.abs() / frame["t"].iloc[300:]).mean(),
        "error_std": error.std(ddof=1),
        "abs_error_std": error.abs().std(ddof=1),
        "abs_perc_error_std": (100 * error.abs() / frame["t"].iloc[300:]).std(ddof=1),
    }
    assert quality == pytest.approx(expected, rel=1e-9)
    assert list(quality) == OLD_QUALITY_METRICS


#: the metric labels of the old monitor's ``regression_performance:quality``, in its order
OLD_QUALITY_METRICS = [
    "mean_error",
    "mean_abs_error",
    "mean_abs_perc_error",
    "error_std",
    "abs_error_std",
    "abs_perc_error_std",
]


def _current_quality(frame: pd.DataFrame, split: int) -> dict[str, float]:
    schema = Schema(numerical=["x"], prediction="p", target="t")
    spec, reference = ProfileSpec.fit_profile(frame.iloc[:split], schema)
    samples = series.regression_performance(reference, spec.profile(frame.iloc[split:]), None, None)
    return {
        labels["metric"]: value
        for name, labels, value in samples
        if name == "regression_performance:quality" and labels["dataset"] == "current"
    }


def test_abs_perc_error_std_skips_zero_targets_as_the_mean_does():
    """Sample std (ddof=1, as the old np.std) of 100 |p - t| / |t| over the rows whose target is
    not 0, the rows the mean reads; from the window's sums, so equal to numpy up to rounding."""
    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"x": rng.normal(size=800), "t": rng.uniform(-20, 20, 800)})
    frame.loc[rng.choice(np.arange(400, 800), 40, replace=False), "t"] = 0.0
    frame["p"] = frame["t"] * rng.uniform(0.7, 1.4, 800) + rng.normal(0, 1, 800)
    current = frame.iloc[400:]
    kept = current[current["t"] != 0]
    assert len(kept) == 360
    percent = 100 * (kept["p"] - kept["t"]).abs() / kept["t"].abs()
    quality = _current_quality(frame, 400)
    assert quality["mean_abs_perc_error"] == pytest.approx(percent.mean(), rel=1e-9)
    assert quality["abs_perc_error_std"] == pytest.approx(np.std(percent, ddof=1), rel=1e-9)
    assert quality["abs_perc_error_std"] != pytest.approx(np.std(percent, ddof=0), rel=1e-6)


def test_abs_perc_error_std_needs_two_rows_with_a_nonzero_target():
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 4.0], "t": [1.0, 2.0, 0.0, 0.0, 4.0], "p": 5 * [2.0]})
    quality = _current_quality(frame, 2)  # current rows: targets 0, 0, 4
    assert quality["mean_abs_perc_error"] == pytest.approx(50.0)
    assert "abs_perc_error_std" not in quality  # one row: the sample std is undefined
    assert quality["abs_error_std"] == pytest.approx(np.std([2.0, 2.0, 2.0], ddof=1))


def test_classification_series_equal_scikit_learn_on_the_raw_labels():
    rng = np.random.default_rng(5)
    truth = rng.choice(["cat", "dog", "fox"], 900, p=[0.5, 0.3, 0.2])
    predicted = np.where(rng.random(900) < 0.7, truth, rng.choice(["cat", "dog", "fox"], 900))
    frame = pd.DataFrame({"x": rng.normal(size=900), "label": truth, "guess": predicted})
    schema = Schema(task="classification", numerical=["x"], prediction="guess", target="label")
    spec, reference = ProfileSpec.fit_profile(frame.iloc[:300], schema)
    current_rows = frame.iloc[300:]
    samples = series.classification_performance(reference, spec.profile(current_rows))
    current = [(name, labels, value) for name, labels, value in samples if labels["dataset"] == "current"]
    quality = {labels["metric"]: v for name, labels, v in current if name.endswith(":quality")}
    y, p = current_rows["label"], current_rows["guess"]
    assert quality == pytest.approx(
        {
            "accuracy": accuracy_score(y, p),
            "precision": precision_score(y, p, average="macro"),
            "recall": recall_score(y, p, average="macro"),
            "f1": f1_score(y, p, average="macro"),
        },
        rel=1e-12,
    )
    classes = ["cat", "dog", "fox"]
    matrix = confusion_matrix(y, p, labels=classes)
    confusion = {
        (labels["class_x_name"], labels["class_y_name"]): v
        for name, labels, v in current
        if name.endswith(":confusion")
    }
    assert confusion == {(a, b): matrix[i, j] for i, a in enumerate(classes) for j, b in enumerate(classes)}
    cells = {
        (labels["class_name"], labels["metric"]): v
        for name, labels, v in current
        if "class_confusion" in name
    }
    assert cells["dog", "TP"] == matrix[1, 1] and cells["dog", "FN"] == matrix[1].sum() - matrix[1, 1]
    assert cells["dog", "FP"] == matrix[:, 1].sum() - matrix[1, 1]
    assert sum(cells["dog", m] for m in ("TP", "FP", "TN", "FN")) == len(current_rows)
    shown = {
        (labels["class_name"], labels["type"]): v for name, labels, v in current if "representation" in name
    }
    assert shown["fox", "target"] == (y == "fox").sum() and shown["fox", "prediction"] == (p == "fox").sum()


def test_target_drift_counts_and_correlations():
    reference, current = _rides(500, 0), _rides(200, 1)
    reference["p"], current["p"] = reference["duration"] * 0.9, current["duration"] * 0.9
    schema = Schema(numerical=["distance"], prediction="p", target="duration")
    spec, reference_profile = ProfileSpec.fit_profile(reference, schema)
    samples = series.num_target_drift(reference_profile, spec.profile(current), reference, current)
    values = {(name, tuple(sorted(labels.items()))): value for name, labels, value in samples}
    assert values["num_target_drift:count", (("dataset", "reference"),)] == 500
    assert values["num_target_drift:count", (("dataset", "current"),)] == 200
    drift = values["num_target_drift:drift", (("kind", "target"),)]
    assert drift == pytest.approx(
        scipy.stats.ks_2samp(reference["duration"], current["duration"]).pvalue, rel=1e-9
    )
    key = ("feature", "distance"), ("feature_type", "num"), ("kind", "target")
    assert values["num_target_drift:current_correlations", key] == pytest.approx(
        current["distance"].corr(current["duration"]), rel=1e-12
    )


def test_error_bias_modes_take_the_first_value_seen_among_ties_as_the_old_service():
    # "zone b" and "zone a" are equally frequent overall; b comes first, so b is the majority
    rows = pd.DataFrame({"zone": ["2", "1", "1", "2"] * 10, "__error": np.linspace(-1, 1, 40)})
    samples = {
        labels["metric"]: value
        for name, labels, value in series._error_bias(rows, [], ["zone"], "")
        if labels["feature"] == "zone"
    }
    assert samples["majority"] == 2.0  # pandas' mode() would say 1, the smallest
