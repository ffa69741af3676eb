"""The loss models' predictions without predict's wrapper equal predict's, number for number."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor

from modelmon.engine.boosted_trees import boosted_predict


def _rows(rng: np.random.Generator, count: int, categories: int) -> np.ndarray:
    numbers = rng.normal(size=(count, 2))
    codes = rng.integers(0, categories, size=(count, 2)).astype(np.float64)
    return np.column_stack([numbers[:, 0], codes[:, 0], numbers[:, 1], codes[:, 1]])


def _awkward(rng: np.random.Generator, count: int) -> np.ndarray:
    """Rows with missing values in every column, categories the fit never saw (new codes, a
    negative one, a fraction, one beyond 255) and numbers beyond the fitted range."""
    rows = _rows(rng, count, 9)
    rows[rng.random(rows.shape) < 0.1] = np.nan
    rows[::7, 1] = -1.0
    rows[::11, 3] = 2.5
    rows[::13, 1] = 300.0
    rows[::17, 0] = 1e9
    return rows


@pytest.mark.parametrize("categorical", [[False, True, False, True], None])
def test_boosted_predictions_equal_scikit_learns_predict_exactly(categorical: list[bool] | None) -> None:
    rng = np.random.default_rng(3)
    train = _rows(rng, 3000, 6)
    train[rng.random(train.shape) < 0.05] = np.nan
    target = np.nan_to_num(train[:, 0]) * 2 + np.nan_to_num(train[:, 1]) + rng.normal(size=len(train))
    model = HistGradientBoostingRegressor(
        max_iter=60, categorical_features=categorical, early_stopping=False, random_state=0
    ).fit(train, np.abs(target))
    for rows in (_awkward(rng, 500), train[:50], train[:1]):
        predicted = boosted_predict(model, rows)
        assert predicted is not None
        expected = model.predict(rows)
        assert predicted.dtype == expected.dtype
        np.testing.assert_array_equal(predicted, expected)


def test_a_model_it_cannot_read_gives_none_for_the_ordinary_call() -> None:
    rng = np.random.default_rng(1)
    train = rng.normal(size=(500, 2))
    model = HistGradientBoostingRegressor(max_iter=10, loss="poisson").fit(train, np.exp(train[:, 0]))
    assert boosted_predict(model, train[:5]) is None
    fitted = HistGradientBoostingRegressor(max_iter=10).fit(train, train[:, 0])
    assert boosted_predict(fitted, train[:5, :1]) is None  # a column short: predict raises its own error


def test_a_model_fitted_again_is_read_again() -> None:
    """What is read once per fit (the categories, the bitsets, the trees) follows a new fit of the
    same model, with other categories and another number of trees."""
    rng = np.random.default_rng(5)
    model = HistGradientBoostingRegressor(max_iter=15, categorical_features=[False, True, False, True])
    rows = _rows(rng, 800, 4)
    for categories, trees in ((4, 15), (8, 30)):
        train = _rows(rng, 1500, categories)
        model.set_params(max_iter=trees).fit(train, train[:, 0] + train[:, 1] * train[:, 3])
        predicted = boosted_predict(model, rows)
        assert predicted is not None
        np.testing.assert_array_equal(predicted, model.predict(rows))
        np.testing.assert_array_equal(boosted_predict(model, rows[:40]), model.predict(rows[:40]))
