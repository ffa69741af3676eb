"""Explainability: SHAP attributions on the reference and the current data, and attribution drift.

**Which explainer.** A tree model that takes the feature frame directly (a scikit-learn forest or
gradient boosting without native categorical splits, or any model shap's ``TreeExplainer``
supports) is explained with ``shap.TreeExplainer`` (exact, path-dependent, fast; its output scale
is the model's raw output: log-odds for gradient-boosted classifiers). Anything else, above all a
``Pipeline`` whose preprocessing turns raw columns into model inputs, is explained on the *raw*
features with ``shap.explainers.Permutation`` and a function masker: a masked feature takes the
values of ``PERMUTATION_BACKGROUND_ROWS`` reference rows, the model output is ``predict``
(regression) or ``predict_proba[:, positive class]``, and two antithetic permutations per row are
evaluated (``max_evals = 2 (2 F + 1)`` for ``F`` features), which keeps additivity exact. Both
are seeded. A permutation explanation costs about ``4 F x PERMUTATION_BACKGROUND_ROWS`` model rows
and a few model calls per explained row, so at most ``PERMUTATION_ROWS`` rows of each sample are
explained (``TREE_ROWS`` for trees; the report option ``explain_rows`` overrides both). shap
compiles its helpers with numba on the first permutation explanation in a process, which takes
seconds once.

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
    shap = require("shap", "explain")
    from shap.utils._exceptions import ExplainerError, InvalidModelError

    if hasattr(model, "steps") or np.any(getattr(model, "is_categorical_", None) or False):
        return None
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


def _permutation_attributions(
    model: Any, rows: pd.DataFrame, background: pd.DataFrame, positive: int, seed: int
) -> Attributions:
    shap = require("shap", "explain")
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
    masked_from = codec.encode(background)

    def masker(mask: np.ndarray, row: np.ndarray) -> np.ndarray:
        # features outside the coalition take the background rows' values
        out = masked_from.copy()
        out[:, mask] = row[mask]
        return out

    masker.shape = masked_from.shape  # type: ignore[attr-defined]
    explainer = shap.explainers.Permutation(output, masker, seed=seed)
    evaluations = 2 * (2 * len(features) + 1)
    # one model call per explained row (shap's default batches of 10 masks make several), and one
    # OpenMP thread: between many small predict calls, spinning threads cost more than they give
    with threadpool_limits(limits=1, user_api="openmp"):
        explanation = explainer(
            codec.encode(rows), max_evals=evaluations, batch_size=evaluations, silent=True
        )
    return Attributions(
        features,
        np.asarray(explanation.values),
        np.asarray(explanation.base_values).reshape(-1),
        "shap.explainers.Permutation",
        described,
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
