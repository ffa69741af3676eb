"""Explainability: SHAP attributions on the reference and the current data, and attribution drift.

**Which explainer.** A tree model that takes the feature frame directly (a scikit-learn forest or
gradient boosting without native categorical splits, or any model shap's ``TreeExplainer``
supports) is explained with ``shap.TreeExplainer`` (exact, path-dependent, fast; its output scale
is the model's raw output: log-odds for gradient-boosted classifiers). Anything else, above all a
``Pipeline`` whose preprocessing turns raw columns into model inputs, is explained on the *raw*
features by antithetic permutations, as ``shap.explainers.Permutation`` with a function masker
computes them: a masked feature takes the values of ``PERMUTATION_BACKGROUND_ROWS`` reference
rows, the model output is ``predict`` (regression) or ``predict_proba[:, positive class]``, and
two feature orders per row are walked forwards and backwards (``max_evals = 2 (2 F + 1)`` for
``F`` features), which keeps additivity exact. The orders are shap's for the same seed, and the
values equal shap's (``tests/engine/test_explain.py``); but the masked rows of many explained
rows go to the model in one call of at most ``MODEL_ROWS`` rows instead of one call per row, and
no numba helper is compiled, which took the demo taxi pipeline's explanation from 358 model calls
(17 s of a full report) to a handful. A masked row that another step or background row already
made (a feature with few values, such as a category or a count, taken from the background) is
given to the model once: its prediction is the same, so the values are too, and the demo taxi
pipeline is given fewer than 70% of the masked rows (``tests/engine/test_explain.py``). At most
``PERMUTATION_ROWS`` rows of each sample are explained (``TREE_ROWS`` for trees; the report option
``explain_rows`` overrides both), so the model sees at most
``PERMUTATION_ROWS x 2 x (2 F - 1) x PERMUTATION_BACKGROUND_ROWS`` rows a sample.

**Attribution drift.** For each feature the mean absolute attribution on each sample, its share of
the total, and the relative change. A drift is flagged when the top feature changes or when a
feature's share of the total attribution moves by more than ``SHARE_CHANGE`` (0.1).

**Attributions sent with events.** Columns ``attr_<feature>`` in profiled frames, or a column
``attributions`` holding each event's ``{feature: value}`` object, are summed by
:class:`AttributionSums`, a profile part, so the online service reports mean absolute
attributions without SHAP.

>>> summary = attribution_drift({"distance": 3.0, "zone": 1.0}, {"distance": 1.0, "zone": 3.0})
>>> summary["detected"], summary["top_feature_changed"], summary["ranking"]["current"]
(True, True, ['zone', 'distance'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from modelmon.engine.report import ReportInputs, not_applicable
from modelmon.errors import InputError, require

if TYPE_CHECKING:
    from modelmon.engine.profile import ProfileSpec

__all__ = [
    "ATTRIBUTION_PREFIX",
    "AttributionSums",
    "Attributions",
    "attribution_drift",
    "explain_rows",
    "explain_section",
]

ATTRIBUTION_PREFIX = "attr_"
PERMUTATION_BACKGROUND_ROWS = 30
PERMUTATION_ROWS = 60
#: orders per explained row, each walked forwards and backwards (shap's ``max_evals = 2 (2 F + 1)``)
PERMUTATIONS = 2
#: masked rows given to the model in one call (several explained rows' worth)
MODEL_ROWS = 100_000
TREE_ROWS = 1000
SHARE_CHANGE = 0.1


@dataclass
class Attributions:
    """SHAP values of some rows: ``values[i, j]`` for row ``i`` and feature ``features[j]``."""

    features: tuple[str, ...]
    values: np.ndarray
    base_values: np.ndarray
    method: str
    output: str
    #: calls of the model's predict and the rows they were given (for the permutation method)
    model_calls: int = 0
    model_rows: int = 0

    @property
    def mean_abs(self) -> dict[str, float]:
        means = np.abs(self.values).mean(axis=0) if len(self.values) else np.zeros(len(self.features))
        return {name: float(value) for name, value in zip(self.features, means, strict=True)}


def _first_rows(frame: pd.DataFrame, rows: int) -> pd.DataFrame:
    # the samples are uniform already, so their first rows are a uniform sample too
    return frame.iloc[:rows]


def _positive_index(model: Any, positive_class: Any) -> int:
    classes = [str(value) for value in getattr(model, "classes_", [])]
    if str(positive_class) in classes:
        return classes.index(str(positive_class))
    return len(classes) - 1


def _class_label(model: Any, index: int) -> Any:
    label = list(model.classes_)[index]
    return label.item() if isinstance(label, np.generic) else label


def _tree_attributions(model: Any, rows: pd.DataFrame, positive: int) -> Attributions | None:
    """TreeExplainer when shap supports the model on these columns; ``None`` when it does not."""
    if hasattr(model, "steps") or np.any(getattr(model, "is_categorical_", None) or False):
        return None  # before importing shap, which takes seconds
    shap = require("shap", "explain")
    from shap.utils._exceptions import ExplainerError, InvalidModelError

    try:
        with threadpool_limits(limits=1, user_api="openmp"):
            explanation = shap.TreeExplainer(model)(rows)
    except (InvalidModelError, ExplainerError, TypeError, ValueError):
        # not a tree model shap understands, or one whose splits it cannot follow (checked by
        # shap's own additivity test): the permutation explainer below handles every model
        return None
    values, base = np.asarray(explanation.values), np.asarray(explanation.base_values)
    output = "raw model output"
    if values.ndim == 3:
        values, base = values[:, :, positive], base[:, positive]
        output = f"raw model output for class {_class_label(model, positive)!r}"
    elif len(getattr(model, "classes_", ())) == 2:
        # one output for a binary classifier: the log-odds of the second class; flip it for the first
        if positive == 0:
            values, base = -values, -base
        output = f"raw model output (log-odds) for class {_class_label(model, positive)!r}"
    return Attributions(tuple(rows.columns), values, base.reshape(-1), "shap.TreeExplainer", output)


class _RawCodec:
    """Raw feature rows <-> a float matrix shap can mask (categories become codes, then come back)."""

    def __init__(self, frames: Sequence[pd.DataFrame], features: Sequence[str]) -> None:
        both = pd.concat([frame[list(features)] for frame in frames], ignore_index=True)
        self.features = tuple(features)
        self.categories = {
            name: pd.unique(both[name])
            for name in features
            if not pd.api.types.is_numeric_dtype(both[name]) or pd.api.types.is_bool_dtype(both[name])
        }

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        matrix = np.empty((len(frame), len(self.features)))
        for j, name in enumerate(self.features):
            if name in self.categories:
                matrix[:, j] = pd.Index(self.categories[name]).get_indexer(frame[name])
            else:
                matrix[:, j] = frame[name].to_numpy(dtype=float, na_value=np.nan)
        return matrix

    def decode(self, matrix: np.ndarray) -> pd.DataFrame:
        columns = {}
        for j, name in enumerate(self.features):
            if name in self.categories:
                columns[name] = self.categories[name][matrix[:, j].astype(np.int64)]
            else:
                columns[name] = matrix[:, j]
        return pd.DataFrame(columns)


def _permutation_orders(rows: int, features: int, seed: int) -> np.ndarray:
    """Each row's feature orders, ``(rows, PERMUTATIONS, features)``: the orders
    ``shap.explainers.Permutation(..., seed=seed)`` draws, from a generator of this call's own
    (shap seeds numpy's global one)."""
    generator = np.random.RandomState(seed)
    orders = np.empty((rows, PERMUTATIONS, features), dtype=np.int64)
    for row in range(rows):
        order = np.arange(features)
        for permutation in range(PERMUTATIONS):
            generator.shuffle(order)
            orders[row, permutation] = order
    return orders


def _coalitions(orders: np.ndarray) -> np.ndarray:
    """Which features are taken from the explained row at each step of each order, ``(..., 2 F + 1, F)``:
    none, then one more at a time in the order until all, then one fewer at a time in the same order."""
    features = orders.shape[-1]
    position = np.argsort(orders, axis=-1)[..., None, :]  # where each feature comes in the order
    step = np.arange(2 * features + 1)[:, None]
    return np.where(step <= features, position < step, position >= step - features)


def _distinct_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(distinct, inverse)``: the distinct rows of ``matrix`` (equal when their bytes are, so a
    missing value matches itself) and where each row of ``matrix`` is among them."""
    matrix = np.ascontiguousarray(matrix)
    keys = matrix.view(np.dtype((np.void, matrix.dtype.itemsize * matrix.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return matrix[first], inverse.reshape(-1)


def _permutation_attributions(
    model: Any, rows: pd.DataFrame, background: pd.DataFrame, positive: int, seed: int
) -> Attributions:
    """SHAP values by antithetic permutations, as ``shap.explainers.Permutation`` with
    ``max_evals = 2 (2 F + 1)`` computes them (the same orders for the same seed), with the masked
    rows of many explained rows in one model call of at most :data:`MODEL_ROWS` rows."""
    features = tuple(rows.columns)
    codec = _RawCodec([background, rows], features)
    if hasattr(model, "predict_proba"):

        def output(matrix: np.ndarray) -> np.ndarray:
            return np.asarray(model.predict_proba(codec.decode(matrix)))[:, positive]

        described = f"probability of class {_class_label(model, positive)!r}"
    else:

        def output(matrix: np.ndarray) -> np.ndarray:
            return np.asarray(model.predict(codec.decode(matrix)), dtype=float)

        described = "prediction"
    explained, masked_from = codec.encode(rows), codec.encode(background)
    count, width = explained.shape
    orders = _permutation_orders(count, width, seed)
    calls, given = 1, len(masked_from)
    with threadpool_limits(limits=1, user_api="openmp"):
        base = float(output(masked_from).mean())  # no feature taken from the row
        # every step but the first and the last (no feature taken) is averaged over the background
        per_row = PERMUTATIONS * (2 * width - 1) * len(masked_from)
        block = max(MODEL_ROWS // max(per_row, 1), 1)
        values = np.zeros((count, width))
        for start in range(0, count, block):
            taken = _coalitions(orders[start : start + block])[:, :, 1:-1]  # (rows, P, 2F - 1, F)
            masked = np.where(
                taken[:, :, :, None, :],
                explained[start : start + block, None, None, None, :],
                masked_from[None, None, None, :, :],
            )
            distinct, inverse = _distinct_rows(masked.reshape(-1, width))
            means = output(distinct)[inverse].reshape(masked.shape[:4]).mean(axis=3)
            calls, given = calls + 1, given + len(distinct)
            edge = np.full((*means.shape[:2], 1), base)  # no feature taken: the first and last step
            steps = np.concatenate([edge, means, edge], axis=2)
            for row in range(len(means)):
                for permutation in range(PERMUTATIONS):
                    order, step = orders[start + row, permutation], steps[row, permutation]
                    values[start + row, order] += step[1 : width + 1] - step[:width]  # taken in
                    values[start + row, order] += step[width:-1] - step[width + 1 :]  # left out
    return Attributions(
        features,
        values / (2 * PERMUTATIONS),
        np.full(count, base),
        "permutation SHAP (as shap.explainers.Permutation)",
        described,
        model_calls=calls,
        model_rows=given,
    )


def explain_rows(
    model: Any,
    rows: pd.DataFrame,
    background: pd.DataFrame,
    features: Sequence[str],
    *,
    positive_class: Any = 1,
    seed: int = 0,
    max_rows: int | None = None,
) -> Attributions:
    """SHAP attributions of the first ``max_rows`` of ``rows`` (by default ``TREE_ROWS`` for tree
    models, ``PERMUTATION_ROWS`` otherwise) against ``background`` reference rows."""
    absent = [name for name in features if name not in rows.columns or name not in background.columns]
    if absent:
        raise InputError(f"cannot explain: the data has no feature column(s) {absent}")
    positive = _positive_index(model, positive_class)
    columns = list(features)
    tree = _tree_attributions(model, _first_rows(rows, max_rows or TREE_ROWS)[columns], positive)
    if tree is not None:
        return tree
    return _permutation_attributions(
        model,
        _first_rows(rows, max_rows or PERMUTATION_ROWS)[columns],
        _first_rows(background, PERMUTATION_BACKGROUND_ROWS)[columns],
        positive,
        seed,
    )


def _ranking(means: Mapping[str, float]) -> list[str]:
    return sorted(means, key=lambda name: (-means[name], name))


def _shares(means: Mapping[str, float]) -> dict[str, float]:
    total = sum(means.values())
    return {name: (value / total if total else 0.0) for name, value in means.items()}


def attribution_drift(reference: Mapping[str, float], current: Mapping[str, float]) -> dict[str, Any]:
    """Compare mean absolute attributions per feature; flag a changed top feature or a share move > 0.1."""
    names = [name for name in reference if name in current]
    reference = {name: float(reference[name]) for name in names}
    current = {name: float(current[name]) for name in names}
    reference_shares, current_shares = _shares(reference), _shares(current)
    features = {}
    for name in names:
        share_change = current_shares[name] - reference_shares[name]
        features[name] = {
            "reference": reference[name],
            "current": current[name],
            "reference_share": reference_shares[name],
            "current_share": current_shares[name],
            "share_change": share_change,
            "relative_change": (current[name] - reference[name]) / reference[name]
            if reference[name]
            else None,
            "drifted": bool(abs(share_change) > SHARE_CHANGE),
        }
    ranking = {"reference": _ranking(reference), "current": _ranking(current)}
    top_changed = bool(names) and ranking["reference"][0] != ranking["current"][0]
    return {
        "features": features,
        "ranking": ranking,
        "top_feature_changed": top_changed,
        "detected": bool(top_changed or any(item["drifted"] for item in features.values())),
        "share_change_threshold": SHARE_CHANGE,
    }


@dataclass
class AttributionSums:
    """Sum of absolute attributions and count per feature, from ``attr_<feature>`` columns."""

    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def fit(cls, reference: pd.DataFrame, spec: ProfileSpec) -> tuple[str, ...] | None:
        return spec.schema.features or None

    @classmethod
    def build(cls, frame: pd.DataFrame, spec: ProfileSpec) -> AttributionSums | None:
        if "attributions" in frame.columns:
            # events' ``attributions`` objects, not yet flattened into attr_<feature> columns
            objects = [value if isinstance(value, Mapping) else {} for value in frame["attributions"]]
            flat = pd.DataFrame(objects, index=frame.index).add_prefix(ATTRIBUTION_PREFIX)
            frame = pd.concat(
                [frame.drop(columns=[c for c in flat.columns if c in frame.columns]), flat], axis=1
            )
        sums, counts = {}, {}
        for name in spec.state["explain"]:
            column = ATTRIBUTION_PREFIX + name
            if column in frame.columns:
                values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                values = np.abs(values[np.isfinite(values)])
                sums[name], counts[name] = float(values.sum()), len(values)
        return cls(sums, counts) if counts else None

    @property
    def means(self) -> dict[str, float]:
        """Mean absolute attribution per feature that has any."""
        return {name: self.sums[name] / count for name, count in self.counts.items() if count}

    def __add__(self, other: AttributionSums) -> AttributionSums:
        sums, counts = dict(self.sums), dict(self.counts)
        for name, value in other.sums.items():
            sums[name] = sums.get(name, 0.0) + value
            counts[name] = counts.get(name, 0) + other.counts[name]
        return AttributionSums(sums, counts)

    def to_dict(self) -> dict[str, Any]:
        return {"sums": dict(self.sums), "counts": dict(self.counts)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AttributionSums:
        return cls(
            {str(k): float(v) for k, v in data["sums"].items()},
            {str(k): int(v) for k, v in data["counts"].items()},
        )


def _model_features(model: Any, features: Sequence[str]) -> list[str]:
    """The schema's features the model was fitted on, in the model's order (all when it does not say)."""
    fitted_on = [str(name) for name in getattr(model, "feature_names_in_", [])]
    known = [name for name in fitted_on if name in features]
    return known or list(features)


def explain_section(inputs: ReportInputs) -> dict[str, Any]:
    """Mean |SHAP| per feature on the reference and current samples, and attribution drift.

    ``reference`` and ``current`` map each feature to its mean absolute attribution (the online
    service exports ``current`` as ``modelmon_feature_attribution``); ``features`` compares them.
    """
    features = _model_features(inputs.model, inputs.schema.features)
    reference_sample, current_sample = inputs.reference_sample, inputs.current_sample
    if inputs.model is not None and reference_sample is not None and current_sample is not None:
        if not len(reference_sample) or not len(current_sample):
            return not_applicable("a model was given but the reference or current sample is empty")
        options = inputs.options
        explain = {
            "positive_class": inputs.schema.positive_class,
            "seed": int(options.get("seed", 0)),
            "max_rows": options.get("explain_rows"),
        }
        reference = explain_rows(inputs.model, reference_sample, reference_sample, features, **explain)
        current = explain_rows(inputs.model, current_sample, reference_sample, features, **explain)
        return {
            "applicable": True,
            "source": "model",
            "method": reference.method,
            "output": reference.output,
            "rows": {"reference": len(reference.values), "current": len(current.values)},
            "reference": reference.mean_abs,
            "current": current.mean_abs,
            **attribution_drift(reference.mean_abs, current.mean_abs),
        }
    current_sums: AttributionSums | None = inputs.current.parts.get("explain")
    if current_sums is None:
        return not_applicable(
            "no model or attributions given: pass --model-file or send attributions with events"
        )
    reference_sums: AttributionSums | None = inputs.reference.parts.get("explain")
    current_means = current_sums.means
    body: dict[str, Any] = {
        "applicable": True,
        "source": "attributions sent with events",
        "method": "mean absolute attribution per feature",
        "rows": {"current": max(current_sums.counts.values())},
        "current": current_means,
    }
    if reference_sums is None:
        ranking = _ranking(current_means)
        return body | {
            "ranking": {"current": ranking},
            "detected": False,
            "reason": "no reference attributions",
        }
    body["rows"]["reference"] = max(reference_sums.counts.values())
    body["reference"] = reference_sums.means
    return body | attribution_drift(reference_sums.means, current_means)
