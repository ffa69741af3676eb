"""The outlier part and section read each column once, with the same results as reading it per use."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelmon.engine import outliers
from modelmon.engine.outliers import OutlierCounts, OutlierState, fit_state
from modelmon.engine.profile import ProfileSpec
from modelmon.schema import Schema

SCHEMA = Schema(numerical=["x", "z", "n"], categorical=["c"], id="id")


def _frame(rng: np.random.Generator, rows: int, ids: str) -> pd.DataFrame:
    """Floats with NaN and far values, integers, numbers as text, categories with None, ids."""
    x = rng.normal(size=rows)
    x[rng.random(rows) < 0.1] = np.nan
    x[rng.random(rows) < 0.05] *= 50
    text = rng.normal(size=rows).round(2).astype(str).astype(object)
    text[rng.random(rows) < 0.1] = "not a number"
    categories = rng.choice(np.array(["a", "b", "c", "d", None], dtype=object), rows)
    identifiers: Any = np.arange(rows) if ids == "integers" else [f"e{i}" for i in range(rows)]
    if ids == "text with gaps":
        identifiers = [None if i % 7 == 0 else f"e{i}" for i in range(rows)]
    return pd.DataFrame(
        {"x": x, "z": text, "n": rng.integers(0, 9, rows), "c": categories, "id": identifiers},
        index=pd.RangeIndex(rows) * 3,
    )


def _top_rows_before(
    state: OutlierState, sample: pd.DataFrame, id_column: str | None, scores: np.ndarray | None
) -> list[dict[str, Any]]:
    """The code before: every numerical column read for every row, then a row at a time."""
    scores = state.scores(sample) if scores is None else scores
    broken = state.violations(sample)
    rows = []
    for position in np.argsort(-scores, kind="stable")[: outliers.TOP_ROWS]:
        row = sample.iloc[position]
        features = {}
        for name in state.encoder.columns:
            value = row[name]
            features[name] = None if pd.isna(value) else (value.item() if hasattr(value, "item") else value)
        rows.append(
            {
                "id": None if id_column is None or id_column not in sample.columns else str(row[id_column]),
                "row": str(sample.index[position]),
                "score": float(scores[position]),
                "outlier": bool(scores[position] > state.threshold),
                "rules": [name for name, flags in broken.items() if flags[position]],
                "features": features,
            }
        )
    return rows


@pytest.mark.parametrize("ids", ["integers", "text", "text with gaps"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_top_rows_are_those_read_a_row_at_a_time(ids: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    state = fit_state(_frame(rng, 1500, ids), SCHEMA.numerical, SCHEMA.categorical)
    sample = _frame(rng, 400, ids)
    for scores in (None, state.scores(sample)):
        for id_column in ("id", None, "absent"):
            assert outliers._top_rows(state, sample, id_column, scores) == _top_rows_before(
                state, sample, id_column, scores
            )
    mixed = sample.assign(z=pd.to_numeric(sample["z"], errors="coerce"), c=sample["c"].astype("category"))
    assert outliers._top_rows(state, mixed, "id", None) == _top_rows_before(state, mixed, "id", None)


@pytest.mark.parametrize("budget", [50, 5000])
def test_each_slices_counts_are_those_of_its_rows_scored_and_checked_alone(
    budget: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(3)
    spec = ProfileSpec.fit(_frame(rng, 2000, "text"), SCHEMA, parts=["outliers"])
    state: OutlierState = spec.state["outliers"]
    monkeypatch.setattr(outliers, "MAX_SCORED_ROWS", budget)
    frame = _frame(rng, 700, "text")
    bounds = [0, 30, 30, 400, 700]
    counts = OutlierCounts.build_slices(frame, spec, bounds)
    for (start, end), built in zip(pairwise(bounds), counts, strict=True):
        rows = frame.iloc[start:end]
        if end - start > budget:
            rows = rows.iloc[outliers._spaced(end - start, budget)]
        scores = state.scores(rows)  # each column read for each use, as before
        broken = state.violations(frame.iloc[start:end])
        assert built is not None
        assert (built.rows, built.scored) == (end - start, len(rows))
        assert built.outliers == int((scores > state.threshold).sum())
        assert built.violations == {name: int(flags.sum()) for name, flags in broken.items()}
        assert built.rule_rows == int(np.logical_or.reduce(list(broken.values())).sum())
        expected = np.histogram(np.clip(scores, 0.0, 2.0), outliers.SCORE_EDGES)[0]
        np.testing.assert_array_equal(built.histogram, expected)


def test_the_top_rows_kept_in_the_memo_are_those_computed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from modelmon.config import Window
    from modelmon.engine.report import ReportInputs
    from modelmon.service.window import SlidingWindow

    rng = np.random.default_rng(6)
    reference_rows = _frame(rng, 2000, "text")
    spec = ProfileSpec.fit(reference_rows, SCHEMA, parts=["outliers"])
    reference = spec.profile(reference_rows)
    window = SlidingWindow(spec, Window(rows=600), buckets=3, sample_rows=40)
    computed = []
    top_rows = outliers._top_rows
    monkeypatch.setattr(outliers, "_top_rows", lambda *args: computed.append(1) or top_rows(*args))
    memo: dict[str, Any] = {}
    sent, kept = 0, 0
    for step in range(14):
        count = int(rng.integers(0, 90))
        window.add(_frame(rng, count, "text").assign(id=[f"e{sent + i}" for i in range(count)]), now=0.0)
        sent += count
        for repeat in range(2):  # a recompute after the new rows, then one with nothing new
            inputs = ReportInputs(
                reference=reference,
                current=window.current(),
                current_sample=window.sample(),
                current_sample_scores=window.sample_scores(),
            )
            before = len(computed)
            section = outliers.outliers_section(ReportInputs(**{**vars(inputs), "memo": memo}))
            if not section.get("top_rows"):
                continue
            kept += len(computed) == before
            assert repeat == 0 or len(computed) == before, step  # nothing new: nothing computed
            assert section == outliers.outliers_section(inputs), step  # computed without a memo
            section["top_rows"][0]["features"]["x"] = "changed by a reader"
            section["top_rows"][0]["rules"].append("changed by a reader")
    assert kept > 14  # every repeat, and the rounds whose new rows left the kept rows as they were
