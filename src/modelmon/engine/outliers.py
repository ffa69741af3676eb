"""Outliers: an IsolationForest fitted on the reference, plus out-of-range rules.

**Scores.** Features are encoded by :class:`FeatureEncoder` (numbers as floats, categories as the
frequency rank of the reference's top categories) and missing values are imputed (the reference
median; a category rank of -1). An ``IsolationForest`` (``n_estimators=100``, ``max_samples=256``,
seeded) is fitted on at most ``FIT_ROWS`` reference rows. A row's *outlier score* is the forest's
anomaly score ``s = 2 ** (-E[h(x)] / c(256))`` in (0, 1) (higher is stranger, about 0.5 is ordinary)
plus how far the row lies outside the reference's range: for each numerical column, the distance
beyond the rule bounds below in units of their width. The forest alone cannot tell a value just
above the reference maximum from one a hundred times larger (its splits all lie inside the range
it was fitted on), so without that term values far outside the reference would score no higher
than the reference's own extremes. A row is an *outlier* when its score is above the
``1 - contamination`` score quantile of reference rows the forest was not fitted on (every other
row of the reference when it has 1000 or more), so about ``contamination`` (1 %) of reference-like
rows are flagged by construction.

**Is the share too high?** The section flags the current data when its outlier share is more than
``SHARE_FACTOR`` (2) times the expected contamination and a one-sided binomial test against the
expected rate gives ``p < SHARE_P_VALUE`` (0.01): both a large and a significant excess.

**Rules.** A numerical value is *out of range* when it lies outside the reference's
``[q0.1%, q99.9%]`` widened by 10 % of that width on each side. The widening keeps the rules
quiet on reference-like data (only a sliver of the reference's own extreme tail breaks them),
while a value far outside what the reference ever produced always does.

**As a profile part.** :class:`OutlierCounts` (rows scored, outliers, rows breaking a rule,
violations per column, a histogram of scores over fixed bins) adds exactly, so the online window
knows its outlier share. At most ``MAX_SCORED_ROWS`` (5,000) evenly spaced rows of one frame are
scored (chunks of a large batch each contribute theirs); rules check every row. The share is then
an estimate from the rows scored, with a binomial standard error of ``sqrt(p (1 - p) / scored)``
(0.06 points at 1% from 30,000 rows, the six chunks of a 1M-row file under the default budget);
``tests/engine/test_outliers.py`` checks it against the share of every row within four of them.
Scoring 20,000 rows a chunk was the largest part of a 1M-row report's outlier section, for an
error of 0.03 points that no decision needs.

>>> import numpy as np, pandas as pd
>>> from modelmon.engine.profile import ProfileSpec
>>> from modelmon.schema import Schema
>>> rng = np.random.default_rng(0)
>>> reference = pd.DataFrame({"x": rng.normal(size=2000), "y": rng.normal(size=2000)})
>>> spec = ProfileSpec.fit(reference, Schema(numerical=["x", "y"]))
>>> current = pd.DataFrame({"x": [0.1, 40.0], "y": [0.0, -35.0]})
>>> counts = spec.profile(current).parts["outliers"]
>>> counts.scored, counts.outliers, counts.violations
(2, 1, {'x': 1, 'y': 1})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from modelmon.engine.floats import as_floats
from modelmon.engine.isolation_forest import forest_scores
from modelmon.engine.performance_parts import label_slots, top_labels
from modelmon.engine.report import ReportInputs, not_applicable
from modelmon.errors import SchemaError

if TYPE_CHECKING:
    from sklearn.ensemble import IsolationForest

    from modelmon.engine.profile import ProfileSpec

__all__ = [
    "CONTAMINATION",
    "SCORE_EDGES",
    "FeatureEncoder",
    "OutlierCounts",
    "OutlierState",
    "outliers_section",
]

#: share of reference-like rows flagged as outliers by construction of the threshold
CONTAMINATION = 0.01
#: reference rows used to fit the forest and to set the threshold
FIT_ROWS = 20_000
#: rows of one frame that are scored (evenly spaced); rules check all rows
MAX_SCORED_ROWS = 5_000
#: categories kept by name per column; the rest share the rank after the last
TOP_CATEGORIES = 20
#: fixed bins of the outlier score (clipped to [0, 2]), so histograms of any frames add
SCORE_EDGES = np.linspace(0.0, 2.0, 41)
#: widening of the reference's [q0.1%, q99.9%] range, as a share of its width, for the rules
RANGE_WIDENING = 0.1
#: the outlier share is flagged when it is this many times the expected one and significant
SHARE_FACTOR = 2.0
SHARE_P_VALUE = 0.01
TOP_ROWS = 10


#: the most bound widths one value adds to its row's outlier score
MAX_EXCESS = 1e6


@dataclass
class FeatureEncoder:
    """Numbers as floats; categories as the frequency rank of the reference's top categories.

    Unknown or rare categories get the rank after the last known one; missing values stay NaN
    (``impute`` replaces them with the reference median, or -1 for categories).

    >>> frame = pd.DataFrame({"x": [1.0, None, 3.0], "zone": ["a", "b", "a"]})
    >>> encoder = FeatureEncoder.fit(frame, ["x"], ["zone"])
    >>> encoder.transform(pd.DataFrame({"x": ["2", None], "zone": ["b", "new"]}), impute=True).tolist()
    [[2.0, 1.0], [2.0, 2.0]]
    """

    numerical: tuple[str, ...]
    categorical: tuple[str, ...]
    medians: dict[str, float] = field(default_factory=dict)
    ranks: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def fit(
        cls, reference: pd.DataFrame, numerical: Sequence[str], categorical: Sequence[str]
    ) -> FeatureEncoder:
        numerical = tuple(name for name in numerical if name in reference.columns)
        categorical = tuple(name for name in categorical if name in reference.columns)
        encoder = cls(numerical, categorical)
        for name in numerical:
            values = pd.to_numeric(reference[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            finite = values[np.isfinite(values)]
            encoder.medians[name] = float(np.median(finite)) if len(finite) else 0.0
        for name in categorical:
            top = top_labels(reference[name], TOP_CATEGORIES)
            encoder.ranks[name] = {label: rank for rank, label in enumerate(top)}
        return encoder

    @property
    def columns(self) -> tuple[str, ...]:
        return self.numerical + self.categorical

    def transform(
        self, frame: pd.DataFrame, impute: bool = False, numbers: Mapping[str, np.ndarray] | None = None
    ) -> np.ndarray:
        """A float matrix with one column per feature, in :attr:`columns` order; ``numbers`` holds
        the numerical columns already read by :func:`numbers_of` (read here otherwise)."""
        absent = [name for name in self.columns if name not in frame.columns]
        if absent:
            raise SchemaError(f"the frame has no feature column(s) {absent}; it has {list(frame.columns)}")
        numbers = numbers_of(frame, self.numerical) if numbers is None else numbers
        matrix = np.empty((len(frame), len(self.columns)), dtype=np.float64)
        for j, name in enumerate(self.numerical):
            values = numbers[name]
            values = np.where(np.isfinite(values), values, np.nan)
            matrix[:, j] = np.where(np.isnan(values), self.medians[name], values) if impute else values
        for j, name in enumerate(self.categorical, start=len(self.numerical)):
            ranks = self.ranks[name]
            codes = label_slots(frame[name], ranks, other=len(ranks), missing=-1).astype(np.float64)
            matrix[:, j] = codes if impute else np.where(codes < 0, np.nan, codes)
        return matrix


def numbers_of(frame: pd.DataFrame, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Each named column as floats (what is not a number is NaN): read once for the scores, the
    distances beyond the rules and the rules, which each read them before.

    >>> numbers_of(pd.DataFrame({"x": ["1.5", "a", None]}), ["x"])["x"].tolist()
    [1.5, nan, nan]
    """
    return {name: as_floats(frame[name]) for name in names}


@dataclass
class OutlierState:
    """What the reference fixes: the encoder, the fitted forest, the score threshold, the rule bounds."""

    encoder: FeatureEncoder
    forest: IsolationForest
    threshold: float
    bounds: dict[str, tuple[float, float]]
    contamination: float = CONTAMINATION

    def scores(self, frame: pd.DataFrame, numbers: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """Outlier score of each row of ``frame`` (higher is stranger); ``numbers``: its numerical
        features already read by :func:`numbers_of`."""
        if len(frame) == 0:
            return np.zeros(0)
        numbers = numbers_of(frame, self.encoder.numerical) if numbers is None else numbers
        matrix = self.encoder.transform(frame, impute=True, numbers=numbers)
        return -forest_scores(self.forest, matrix) + self.excess(frame, numbers)

    def excess(self, frame: pd.DataFrame, numbers: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """Per row, the summed distance outside the rule bounds, in units of each bound's width."""
        numbers = numbers_of(frame, list(self.bounds)) if numbers is None else numbers
        total = np.zeros(len(frame))
        for name, (low, high) in self.bounds.items():
            values = numbers[name]
            width = high - low if high > low else max(abs(high), 1.0)
            with np.errstate(over="ignore", invalid="ignore"):
                beyond = np.maximum(np.maximum(low - values, values - high), 0.0) / width
            # an infinity is a type error, not a distance; past a million widths a row is as strange
            # as it gets (and the sum over columns cannot overflow)
            total += np.where(np.isinf(values), 0.0, np.nan_to_num(beyond, nan=0.0).clip(max=MAX_EXCESS))
        return total

    def violations(
        self, frame: pd.DataFrame, numbers: Mapping[str, np.ndarray] | None = None
    ) -> dict[str, np.ndarray]:
        """Per numerical column, which rows lie outside the reference's widened range."""
        numbers = numbers_of(frame, list(self.bounds)) if numbers is None else numbers
        broken = {}
        for name, (low, high) in self.bounds.items():
            values = numbers[name]
            broken[name] = (values < low) | (values > high)
        return broken


def fit_state(reference: pd.DataFrame, numerical: Sequence[str], categorical: Sequence[str]) -> OutlierState:
    """Fit the encoder, the forest, the threshold and the rule bounds on reference rows."""
    from sklearn.ensemble import IsolationForest

    rows = reference if len(reference) <= FIT_ROWS else reference.iloc[_spaced(len(reference), FIT_ROWS)]
    encoder = FeatureEncoder.fit(rows, numerical, categorical)
    # the threshold comes from rows the forest did not see: in-sample scores run low, which would
    # make about 1.3x the intended share of new reference-like rows outliers
    fit_rows, threshold_rows = (rows.iloc[::2], rows.iloc[1::2]) if len(rows) >= 1000 else (rows, rows)
    forest = IsolationForest(n_estimators=100, max_samples=min(256, len(fit_rows)), random_state=0)
    forest.fit(encoder.transform(fit_rows, impute=True))
    bounds = {}
    for name in encoder.numerical:
        values = pd.to_numeric(reference[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        values = values[np.isfinite(values)]
        if len(values):
            low, high = np.quantile(values, [0.001, 0.999])
            margin = RANGE_WIDENING * (high - low)
            bounds[name] = (float(low - margin), float(high + margin))
    state = OutlierState(encoder, forest, 0.0, bounds)
    state.threshold = float(np.quantile(state.scores(threshold_rows), 1.0 - CONTAMINATION))
    return state


def _spaced(rows: int, keep: int) -> np.ndarray:
    return np.linspace(0, rows - 1, keep).round().astype(np.int64)


@dataclass
class OutlierCounts:
    """Mergeable outlier counts of some rows."""

    rows: int = 0
    scored: int = 0
    outliers: int = 0
    rule_rows: int = 0
    violations: dict[str, int] = field(default_factory=dict)
    histogram: np.ndarray = field(default_factory=lambda: np.zeros(len(SCORE_EDGES) - 1, dtype=np.int64))
    #: from :meth:`build_slices`, when every row was scored: each row's score, in order, for a
    #: caller that keeps some of the rows with their scores (a window's sample); neither compared,
    #: summed nor stored
    row_scores: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def fit(cls, reference: pd.DataFrame, spec: ProfileSpec) -> OutlierState | None:
        schema = spec.schema
        if not schema.features or len(reference) < 10:
            return None
        return fit_state(reference, schema.numerical, schema.categorical)

    @classmethod
    def build(cls, frame: pd.DataFrame, spec: ProfileSpec) -> OutlierCounts | None:
        return cls.build_slices(frame, spec, [0, len(frame)])[0]

    @classmethod
    def build_slices(
        cls, frame: pd.DataFrame, spec: ProfileSpec, bounds: Sequence[int]
    ) -> list[OutlierCounts | None]:
        """The counts of each slice ``frame.iloc[bounds[i]:bounds[i + 1]]``, as :meth:`build` of it
        alone: the rows each slice scores are scored in one call (a row's score does not depend on
        the rows scored with it)."""
        state: OutlierState = spec.state["outliers"]
        absent = [name for name in state.encoder.columns if name not in frame.columns]
        if len(absent) == len(state.encoder.columns):
            return [None] * (len(bounds) - 1)
        if absent:
            # an absent feature is imputed like a missing value; the rows are scored on the others
            frame = frame.assign(**dict.fromkeys(absent, np.nan))
        picked = [
            np.arange(start, end)
            if end - start <= MAX_SCORED_ROWS
            else start + _spaced(end - start, MAX_SCORED_ROWS)
            for start, end in pairwise(bounds)
        ]
        chosen = np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64)
        numbers = numbers_of(frame, state.encoder.numerical)
        if len(chosen) == len(frame):  # every row (the slices' rows, in order): no copy to take
            all_scores = state.scores(frame, numbers)
        else:
            taken = {name: values[chosen] for name, values in numbers.items()}
            all_scores = state.scores(frame.iloc[chosen], taken)
        broken = state.violations(frame, numbers)
        any_rule = np.zeros(len(frame), dtype=bool)
        for flags in broken.values():
            any_rule |= flags
        counts: list[OutlierCounts | None] = []
        offset = 0
        for (start, end), rows in zip(pairwise(bounds), picked, strict=True):
            scores = all_scores[offset : offset + len(rows)]
            offset += len(rows)
            counts.append(
                cls(
                    rows=end - start,
                    scored=len(scores),
                    outliers=int((scores > state.threshold).sum()),
                    rule_rows=int(any_rule[start:end].sum()),
                    violations={name: int(flags[start:end].sum()) for name, flags in broken.items()},
                    histogram=np.histogram(np.clip(scores, 0.0, 2.0), SCORE_EDGES)[0].astype(np.int64),
                    row_scores=scores if len(scores) == end - start else None,
                )
            )
        return counts

    @property
    def share(self) -> float | None:
        """Share of scored rows that are outliers."""
        return self.outliers / self.scored if self.scored else None

    def __add__(self, other: OutlierCounts) -> OutlierCounts:
        violations = dict(self.violations)
        for name, count in other.violations.items():
            violations[name] = violations.get(name, 0) + count
        return OutlierCounts(
            self.rows + other.rows,
            self.scored + other.scored,
            self.outliers + other.outliers,
            self.rule_rows + other.rule_rows,
            violations,
            self.histogram + other.histogram,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OutlierCounts) and self.to_dict() == other.to_dict()

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "scored": self.scored,
            "outliers": self.outliers,
            "rule_rows": self.rule_rows,
            "violations": dict(self.violations),
            "histogram": self.histogram.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutlierCounts:
        return cls(
            int(data["rows"]),
            int(data["scored"]),
            int(data["outliers"]),
            int(data["rule_rows"]),
            {str(name): int(count) for name, count in data["violations"].items()},
            np.asarray(data["histogram"], dtype=np.int64),
        )


def _share(count: int, total: int) -> float | None:
    return count / total if total else None


def _top_rows(
    state: OutlierState, sample: pd.DataFrame, id_column: str | None, scores: np.ndarray | None
) -> list[dict[str, Any]]:
    scores = state.scores(sample) if scores is None else scores
    positions = np.argsort(-scores, kind="stable")[:TOP_ROWS]
    # the top rows taken at once and read a column at a time: a row at a time through ``iloc`` (a
    # Series of mixed values built per row) cost more than the section's other work together
    top = sample.iloc[positions]
    broken = state.violations(top)
    values = {name: top[name].tolist() for name in state.encoder.columns}
    ids = top[id_column].tolist() if id_column is not None and id_column in top.columns else None
    rows = []
    for place, position in enumerate(positions.tolist()):
        features = {name: _plain(column[place]) for name, column in values.items()}
        rows.append(
            {
                "id": None if ids is None else str(ids[place]),
                "row": str(sample.index[position]),
                "score": float(scores[position]),
                "outlier": bool(scores[position] > state.threshold),
                "rules": [name for name, flags in broken.items() if flags[place]],
                "features": features,
            }
        )
    return rows


def _kept_top_rows(
    inputs: ReportInputs, state: OutlierState, sample: pd.DataFrame, scores: np.ndarray | None
) -> list[dict[str, Any]]:
    """:func:`_top_rows`, kept in the inputs' memo and given again while the sample is the same
    frame with the same scores (an online window hands back its kept rows unchanged until a bucket
    gains or loses some: three recomputes in four under steady traffic, and every one with nothing
    new), as copies, so a caller's change to one result does not reach the next."""
    memo, id_column = inputs.memo, inputs.schema.id
    if memo is None or scores is None:
        return _top_rows(state, sample, id_column, scores)
    kept = memo.get("outliers")
    same = (
        kept is not None
        and kept[0] is sample
        and kept[1] is state
        and kept[2] == id_column
        and np.array_equal(kept[3], scores)
    )
    if same and kept is not None:
        rows: list[dict[str, Any]] = kept[4]
    else:
        rows = _top_rows(state, sample, id_column, scores)
        memo["outliers"] = (sample, state, id_column, scores.copy(), rows)
    return [{**row, "rules": list(row["rules"]), "features": dict(row["features"])} for row in rows]


def _plain(value: Any) -> Any:
    """A feature's value as JSON takes it: a missing one as ``None``, a numpy scalar as Python's."""
    return None if pd.isna(value) else (value.item() if hasattr(value, "item") else value)


def outliers_section(inputs: ReportInputs) -> dict[str, Any]:
    """Outlier share against the expected contamination, rule violations per column, top rows."""
    state: OutlierState | None = inputs.reference.spec.state.get("outliers")
    reference: OutlierCounts | None = inputs.reference.parts.get("outliers")
    current: OutlierCounts | None = inputs.current.parts.get("outliers")
    if state is None or reference is None:
        return not_applicable("the schema has no feature columns to score (or fewer than 10 reference rows)")
    if current is None or not current.scored:
        return not_applicable("the current data has no rows with all feature columns")
    expected = state.contamination
    share = current.outliers / current.scored
    # one-sided binomial test: more outliers than the expected contamination explains
    p_value = float(stats.binomtest(current.outliers, current.scored, expected, alternative="greater").pvalue)
    detected = bool(share > SHARE_FACTOR * expected and p_value < SHARE_P_VALUE)
    columns = {}
    for name, (low, high) in state.bounds.items():
        columns[name] = {
            "low": low,
            "high": high,
            "current_violations": current.violations.get(name, 0),
            "current_share": _share(current.violations.get(name, 0), current.rows),
            "reference_share": _share(reference.violations.get(name, 0), reference.rows),
        }
    sample = inputs.current_sample
    scores = inputs.current_sample_scores
    top = _kept_top_rows(inputs, state, sample, scores) if sample is not None and len(sample) else []
    return {
        "applicable": True,
        "detected": detected,
        "share": share,
        "expected_share": expected,
        "reference_share": reference.share,
        "p_value": p_value,
        "outliers": current.outliers,
        "scored_rows": current.scored,
        "threshold": state.threshold,
        "rule_rows": current.rule_rows,
        "rule_share": _share(current.rule_rows, current.rows),
        "reference_rule_share": _share(reference.rule_rows, reference.rows),
        "columns": columns,
        "histogram": {
            "bins": SCORE_EDGES.tolist(),
            "reference": _normalised(reference.histogram),
            "current": _normalised(current.histogram),
        },
        "top_rows": top,
        "method": (
            f"IsolationForest fitted on the reference; outlier when the score exceeds the reference's "
            f"{1 - expected:.0%} quantile; flagged when the share is above {SHARE_FACTOR}x the expected "
            f"{expected:.0%} with a one-sided binomial p < {SHARE_P_VALUE}"
        ),
    }


def _normalised(histogram: np.ndarray) -> list[float]:
    total = histogram.sum()
    return (histogram / total).tolist() if total else [0.0] * len(histogram)
