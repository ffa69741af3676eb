"""Multivariate drift: a domain classifier that tries to tell reference rows from current rows.

A seeded ``HistGradientBoostingClassifier`` is trained on the reference sample (label 0) against
the current sample (label 1), with features encoded as for outliers
(:class:`~modelmon.engine.outliers.FeatureEncoder`: numbers as they are, categories as native
categorical codes, missing values left to the model). Its ROC AUC is measured on out-of-fold
predictions of a stratified ``CV_FOLDS``-fold cross-validation, so no row is scored by a model
that saw it.

**When is it a drift?** Without a difference between the samples the out-of-fold AUC is close to
0.5, with the Mann-Whitney standard deviation ``sd = sqrt((n0 + n1 + 1) / (12 n0 n1))``. A drift
is reported when ``AUC >= max(0.55, 0.5 + 3 sd)``: 0.55 is the smallest separation worth a
person's attention (the common domain-classifier rule), and ``0.5 + 3 sd`` keeps small samples
from crossing it by chance (one-sided p of about 0.001). Both bounds are reported.

**Which features?** Permutation importance (drop in ROC AUC when a feature is shuffled,
``n_repeats=3``) of a classifier trained on 70 % of the rows and scored on the other 30 %:
the features that separate the samples most come first. The shuffles are
``sklearn.inspection.permutation_importance``'s for the same seed, and so are the importances
(``tests/engine/test_multivariate.py``), but every shuffled copy of the held-out rows goes to the
classifier in one call and the AUCs are taken from ranks at once: 34 predictions and 35 AUC calls
for the demo taxi features were most of the section's time.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> reference = pd.DataFrame({"x": rng.normal(size=400), "y": rng.normal(size=400)})
>>> current = pd.DataFrame({"x": rng.normal(2.0, 1.0, size=400), "y": rng.normal(size=400)})
>>> result = domain_classifier(reference, current, ["x", "y"], [])
>>> result["detected"], result["auc"] > 0.8, result["top_features"][0]
(True, True, 'x')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from modelmon.engine.outliers import FeatureEncoder
from modelmon.engine.report import ReportInputs, not_applicable

__all__ = [
    "MIN_ROWS",
    "domain_classifier",
    "drift_threshold",
    "multivariate_section",
    "permutation_importance",
]

#: rows each sample needs before the classifier is trained
MIN_ROWS = 50
CV_FOLDS = 5
#: the smallest AUC reported as a drift, whatever the sample sizes
MIN_AUC = 0.55
#: standard deviations of the null AUC above 0.5 that a drift must also clear
NULL_SIGMAS = 3.0
TOP_FEATURES = 5
#: shuffles of each feature for its permutation importance
IMPORTANCE_REPEATS = 3


def drift_threshold(reference_rows: int, current_rows: int) -> tuple[float, float]:
    """``(threshold, null_sd)``: the AUC a drift must reach and the null AUC's standard deviation.

    >>> threshold, sd = drift_threshold(1000, 1000)
    >>> round(threshold, 3), round(sd, 4)
    (0.55, 0.0129)
    >>> round(drift_threshold(60, 60)[0], 3)
    0.659
    """
    sd = math.sqrt((reference_rows + current_rows + 1) / (12.0 * reference_rows * current_rows))
    return max(MIN_AUC, 0.5 + NULL_SIGMAS * sd), sd


def _roc_auc(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC AUC of each row of ``scores`` (``(k, n)``) for 0/1 ``labels``: the Mann-Whitney statistic
    from mid-ranks, which is the area under the ROC curve with ties counted half."""
    from scipy.stats import rankdata

    positive = labels == 1
    count = int(positive.sum())
    ranks = rankdata(scores, axis=1)
    return (ranks[:, positive].sum(axis=1) - count * (count + 1) / 2) / (count * (len(labels) - count))


def permutation_importance(
    model: Any, matrix: np.ndarray, labels: np.ndarray, repeats: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, std)`` over ``repeats`` of each feature's drop in ROC AUC when its column of
    ``matrix`` is shuffled, as ``sklearn.inspection.permutation_importance(model, matrix, labels,
    scoring="roc_auc", n_repeats=repeats, random_state=seed)`` computes it: the same shuffles (each
    column's from a generator of the one seed it draws, each repeat shuffling the column again), with
    every shuffled copy scored in one call of the model.

    >>> rng = np.random.default_rng(0)
    >>> matrix = rng.normal(size=(200, 2))
    >>> labels = (matrix[:, 0] > 0).astype(int)
    >>> from sklearn.linear_model import LogisticRegression
    >>> mean, _ = permutation_importance(LogisticRegression().fit(matrix, labels), matrix, labels, 3, 0)
    >>> bool(mean[0] > 0.3 > abs(mean[1]))
    True
    """
    rows, width = matrix.shape
    column_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    copies = [matrix]
    for column in range(width):
        generator = np.random.RandomState(column_seed)
        shuffled, order = matrix.copy(), np.arange(rows)
        for _ in range(repeats):
            generator.shuffle(order)
            shuffled[:, column] = shuffled[order, column]
            copies.append(shuffled.copy())
    scores = np.asarray(model.predict_proba(np.vstack(copies)))[:, 1].reshape(len(copies), rows)
    auc = _roc_auc(labels, scores)
    drops = (auc[0] - auc[1:]).reshape(width, repeats)
    return drops.mean(axis=1), drops.std(axis=1)


def domain_classifier(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numerical: Sequence[str],
    categorical: Sequence[str],
    *,
    encoder: FeatureEncoder | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Train the reference-vs-current classifier; its cross-validated AUC and the separating features."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split
    from threadpoolctl import threadpool_limits

    from modelmon.engine.domain_model import DomainClassifier

    if encoder is None:
        encoder = FeatureEncoder.fit(reference, numerical, categorical)
    features = list(encoder.columns)
    matrix = np.vstack([encoder.transform(reference), encoder.transform(current)])
    labels = np.concatenate([np.zeros(len(reference), dtype=np.int64), np.ones(len(current), dtype=np.int64)])
    is_categorical = [name in encoder.categorical for name in features]
    folds = StratifiedKFold(CV_FOLDS, shuffle=True, random_state=seed)
    # OpenMP threads spin while waiting; on small, busy machines one thread is much faster for fits this size
    with threadpool_limits(limits=1, user_api="openmp"):
        scores = cross_val_predict(
            DomainClassifier(tuple(is_categorical), seed), matrix, labels, cv=folds, method="predict_proba"
        )[:, 1]
        train_x, hold_x, train_y, hold_y = train_test_split(
            matrix, labels, test_size=0.3, stratify=labels, random_state=seed
        )
        fitted = DomainClassifier(tuple(is_categorical), seed).fit(train_x, train_y)
        importance, spread = permutation_importance(fitted, hold_x, hold_y, IMPORTANCE_REPEATS, seed)
    auc = float(roc_auc_score(labels, scores))
    threshold, null_sd = drift_threshold(len(reference), len(current))
    order = sorted(range(len(features)), key=lambda j: (-importance[j], features[j]))
    ranked: list[dict[str, Any]] = [
        {"feature": features[j], "importance": float(importance[j]), "std": float(spread[j])} for j in order
    ]
    return {
        "auc": auc,
        "threshold": threshold,
        "null_sd": null_sd,
        "detected": bool(auc >= threshold),
        "reference_rows": len(reference),
        "current_rows": len(current),
        "features": ranked,
        "top_features": [item["feature"] for item in ranked if item["importance"] > 0.0][:TOP_FEATURES],
        "method": (
            f"HistGradientBoostingClassifier, {CV_FOLDS}-fold out-of-fold ROC AUC; drift when AUC >= "
            f"max({MIN_AUC}, 0.5 + {NULL_SIGMAS:g} x null sd); features ranked by permutation importance"
        ),
    }


def multivariate_section(inputs: ReportInputs) -> dict[str, Any]:
    """Domain-classifier drift between the reference and current samples."""
    reference, current = inputs.reference_sample, inputs.current_sample
    if reference is None or current is None:
        return not_applicable("no row samples of the reference and current data were kept")
    schema = inputs.schema
    numerical = [name for name in schema.numerical if name in reference.columns and name in current.columns]
    categorical = [
        name for name in schema.categorical if name in reference.columns and name in current.columns
    ]
    if not numerical and not categorical:
        return not_applicable("no feature column is present in both samples")
    if len(reference) < MIN_ROWS or len(current) < MIN_ROWS:
        return not_applicable(
            f"the domain classifier needs at least {MIN_ROWS} rows in each sample "
            f"(reference {len(reference)}, current {len(current)})"
        )
    state = inputs.reference.spec.state.get("outliers")
    encoder = None
    if state is not None and state.encoder.columns == tuple(numerical + categorical):
        encoder = state.encoder
    seed = int(inputs.options.get("seed", 0))
    return {
        "applicable": True,
        **domain_classifier(reference, current, numerical, categorical, encoder=encoder, seed=seed),
    }
