"""The multivariate section's reference-vs-current classifier, robust to features without values.

Imported only when the section runs, so scikit-learn is not loaded with the engine.

>>> import numpy as np
>>> matrix = np.column_stack([np.r_[np.zeros(20), np.ones(20)], np.full(40, np.nan)])
>>> labels = np.r_[np.zeros(20, dtype=int), np.ones(20, dtype=int)]
>>> model = DomainClassifier((False, False)).fit(matrix, labels)
>>> model.kept_.tolist(), model.predict(matrix[[0, -1]]).tolist()
([True, False], [0, 1])
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier

__all__ = ["DomainClassifier"]


class DomainClassifier(ClassifierMixin, BaseEstimator):
    """Seeded gradient boosting over the features that have a value in its training rows.

    A feature with no value in the rows it is fitted on (an all-null column, or a sparse one whose
    few values all fell in other folds) says nothing, and scikit-learn's binning of such a column
    fails (``window shape cannot be larger than input array shape``); it is left out of the fit
    and ignored when predicting. With no feature left, the classifier predicts the training rows'
    label shares.
    """

    def __init__(self, categorical: tuple[bool, ...] = (), seed: int = 0) -> None:
        self.categorical = categorical
        self.seed = seed

    def fit(self, matrix: np.ndarray, labels: np.ndarray) -> DomainClassifier:
        self.classes_ = np.unique(labels)
        self.kept_ = ~np.isnan(matrix).all(axis=0)
        self.prior_ = np.array([np.mean(labels == label) for label in self.classes_])
        self.model_: Any = None
        if self.kept_.any() and len(self.classes_) > 1:
            categorical = [flag for flag, kept in zip(self.categorical, self.kept_, strict=True) if kept]
            self.model_ = HistGradientBoostingClassifier(
                max_iter=50,
                learning_rate=0.15,
                max_leaf_nodes=15,
                categorical_features=categorical if any(categorical) else None,
                early_stopping=False,
                random_state=self.seed,
            ).fit(matrix[:, self.kept_], labels)
        return self

    def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
        if self.model_ is None:
            return np.tile(self.prior_, (len(matrix), 1))
        return np.asarray(self.model_.predict_proba(matrix[:, self.kept_]))

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.classes_[np.argmax(self.predict_proba(matrix), axis=1)])
