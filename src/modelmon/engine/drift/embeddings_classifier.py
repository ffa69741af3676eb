"""Domain-classifier drift on an embedding space: Evidently's default ``model`` method.

As Evidently's ``embedding_drift_methods.model()``: reference rows are labelled 1 and current rows
0, the rows are split in halves (``train_test_split(test_size=0.5, random_state=42)``), a
logistic ``SGDClassifier(loss="log_loss", random_state=42)`` is trained on one half and its ROC AUC
measured on the other. Drift when the AUC is above 0.55; with a reference of fewer than 1000 rows
(Evidently's ``bootstrap`` default), when it is above the 95th percentile of the AUCs of 100 random
scorings of the same held-out labels (seeded 0 to 99, as Evidently's). The p-value (one-sided
Mann-Whitney U of the held-out scores, what the AUC is a rescaling of) is reported beside the
verdict, which follows Evidently's rule.

The classifier is linear: it finds shifts of the embeddings' location, not changes of their
correlation that keep the mean; the ``mmd`` method finds those.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> result = classifier_test(rng.normal(size=(1500, 8)), rng.normal(0.3, 1.0, size=(1500, 8)))
>>> result["method"], result["detected"], result["score"] > 0.7, result["rule"]
('model', True, True, 'AUC > 0.55')
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["BOOTSTRAP_BELOW", "THRESHOLD", "classifier_test"]

#: AUC above which drift is declared (Evidently's default)
THRESHOLD = 0.55
#: with fewer reference rows than this, the threshold is the random scorings' 95th percentile
BOOTSTRAP_BELOW = 1000
QUANTILE = 0.95
RANDOM_SCORINGS = 100


def classifier_test(
    reference: np.ndarray,
    current: np.ndarray,
    *,
    threshold: float = THRESHOLD,
    reference_rows: int | None = None,
) -> dict[str, Any]:
    """Reference-vs-current classifier AUC on held-out rows, and the verdict by Evidently's rule.

    ``reference_rows`` is the size of the whole reference (the bootstrap rule reads it), when
    ``reference`` is a sample of it.
    """
    from scipy.stats import mannwhitneyu
    from sklearn.linear_model import SGDClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    rows = np.vstack([np.asarray(reference, float), np.asarray(current, float)])
    labels = np.concatenate([np.ones(len(reference), np.int64), np.zeros(len(current), np.int64)])
    train_x, test_x, train_y, test_y = train_test_split(
        rows, labels, test_size=0.5, random_state=42, shuffle=True
    )
    if len(np.unique(train_y)) < 2 or len(np.unique(test_y)) < 2:
        raise ValueError("the domain classifier needs reference and current rows in both halves of the split")
    classifier = SGDClassifier(loss="log_loss", random_state=42).fit(train_x, train_y)
    scores = classifier.predict_proba(test_x)[:, 1]
    auc = float(roc_auc_score(test_y, scores))
    p_value = float(mannwhitneyu(scores[test_y == 1], scores[test_y == 0], alternative="greater").pvalue)
    size = len(reference) if reference_rows is None else reference_rows
    if size < BOOTSTRAP_BELOW:
        random_aucs = [
            roc_auc_score(test_y, np.random.RandomState(seed).rand(len(test_y)))
            for seed in range(RANDOM_SCORINGS)
        ]
        effective, rule = (
            float(np.percentile(random_aucs, 100 * QUANTILE)),
            "AUC > 95th percentile of random AUCs",
        )
    else:
        effective, rule = float(threshold), f"AUC > {threshold:g}"
    return {
        "method": "model",
        "score": auc,
        "threshold": effective,
        "detected": auc > effective,
        "p_value": p_value,
        "rule": rule,
        "rows_compared": [len(reference), len(current)],
    }
