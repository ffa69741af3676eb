from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modelmon.engine.dle import DLEPart, estimate_losses
from modelmon.engine.performance_section import performance_section
from modelmon.engine.profile import Profile, ProfileSpec
from modelmon.engine.report import ReportInputs
from modelmon.schema import Schema

SCHEMA = Schema(
    task="regression", numerical=["load", "size"], categorical=["kind"], prediction="pred", target="y"
)


def heteroscedastic(rows: int, seed: int, shifted: bool = False) -> pd.DataFrame:
    """The model is right on average; its error grows with ``load``, which the current data shifts."""
    rng = np.random.default_rng(seed)
    load = rng.beta(4, 1.5, rows) if shifted else rng.uniform(0, 1, rows)
    size = rng.normal(10, 2, rows)
    kind = rng.choice(["a", "b", "c"], rows)
    noise_scale = 0.3 + 3.0 * load + np.where(kind == "c", 1.0, 0.0)
    pred = 2 * size + 5 * load
    return pd.DataFrame(
        {
            "load": load,
            "size": size,
            "kind": kind,
            "pred": pred,
            "y": pred + rng.normal(0, 1, rows) * noise_scale,
        }
    )


@pytest.fixture(scope="module")
def spec() -> ProfileSpec:
    return ProfileSpec.fit(heteroscedastic(20_000, 0), SCHEMA, parts=["performance", "dle"])


def test_estimated_mae_and_rmse_follow_a_shift_towards_larger_errors(spec):
    reference, current = heteroscedastic(20_000, 0), heteroscedastic(20_000, 1, shifted=True)
    section = performance_section(
        ReportInputs(spec.profile(reference), spec.profile(current.drop(columns="y")))
    )
    estimated = section["estimated"]
    assert estimated["applicable"] is True and estimated["method"] == "DLE"
    error = current["y"] - current["pred"]  # withheld from the estimate
    realized_mae, realized_rmse = float(error.abs().mean()), float(np.sqrt((error**2).mean()))
    reference_mae = float((reference["y"] - reference["pred"]).abs().mean())
    assert realized_mae > 1.3 * reference_mae  # the shift made the model clearly worse
    assert estimated["current"]["mae"] == pytest.approx(realized_mae, rel=0.10)
    assert estimated["current"]["rmse"] == pytest.approx(realized_rmse, rel=0.10)
    assert estimated["reference"]["mae"] == pytest.approx(reference_mae, rel=0.05)
    assert estimated["relative_change"]["mae"] > 0.2
    # no target in the current data: realized metrics do not apply, the estimate does
    assert section["applicable"] is False


def test_the_estimate_streams_chunk_by_chunk_and_round_trips(spec):
    current = heteroscedastic(9_000, 2, shifted=True).drop(columns="y")
    whole = spec.profile(current).parts["dle"]
    chunks = spec.profile_chunks(current.iloc[i : i + 1_000] for i in range(0, len(current), 1_000))
    chunked = chunks.parts["dle"]
    assert chunked.rows == whole.rows == 9_000
    assert estimate_losses(chunked)["mae"] == pytest.approx(estimate_losses(whole)["mae"], rel=1e-12)
    restored = Profile.from_dict(json.loads(json.dumps(chunks.to_dict())), spec).parts["dle"]
    assert isinstance(restored, DLEPart) and restored == chunked


def test_rows_without_a_prediction_are_counted_unscored(spec):
    current = heteroscedastic(300, 3).assign(pred=lambda f: f["pred"].where(f.index % 3 > 0))
    part = spec.profile(current.drop(columns="y")).parts["dle"]
    assert (part.rows, part.unscored, part.labelled) == (200, 100, 0)


def test_only_rows_without_a_target_are_estimated(spec):
    current = heteroscedastic(3_000, 5, shifted=True)
    current["y"] = current["y"].where(current.index % 3 == 0)  # a third labelled so far
    part = spec.profile(current).parts["dle"]
    assert (part.rows, part.labelled, part.sampled) == (2_000, 1_000, 2_000)
    unlabelled = current[current["y"].isna()].drop(columns="y")
    alone = spec.profile(unlabelled).parts["dle"]
    assert estimate_losses(part)["mae"] == pytest.approx(estimate_losses(alone)["mae"], rel=1e-12)
    section = performance_section(ReportInputs(spec.profile(heteroscedastic(500, 0)), spec.profile(current)))
    assert section["applicable"] is True and section["labelled_rows"] == 1_000
    assert section["estimated"]["rows"] == 2_000 and section["estimated"]["labelled_rows"] == 1_000
    labelled = performance_section(
        ReportInputs(spec.profile(heteroscedastic(500, 0)), spec.profile(heteroscedastic(500, 6)))
    )
    assert labelled["applicable"] is True
    assert labelled["estimated"]["applicable"] is False and "realized" in labelled["estimated"]["reason"]


def test_a_sampled_estimate_is_within_its_stated_error_of_every_rows(spec, monkeypatch):
    """The sample bounds the cost (10,000 rows of a 100,000-row chunk) and says its own error; the
    estimate over every row (as before the sample) is within four standard errors of it, and that
    error is under 1% of the estimate."""
    from modelmon.engine import dle

    current = heteroscedastic(100_000, 7, shifted=True).drop(columns="y")
    sampled = spec.profile(current).parts["dle"]
    assert (sampled.rows, sampled.sampled) == (100_000, dle.SAMPLE_ROWS)
    monkeypatch.setattr(dle, "SAMPLE_ROWS", 10**9)
    every = spec.profile(current).parts["dle"]
    assert every.sampled == 100_000 and dle.sampling_error(every) == {"mae": 0.0, "rmse": 0.0}
    error = dle.sampling_error(sampled)
    for metric in ("mae", "rmse"):
        estimate, exact = estimate_losses(sampled)[metric], estimate_losses(every)[metric]
        assert 0 < error[metric] < 0.01 * exact
        assert abs(estimate - exact) < 4 * error[metric], (metric, estimate, exact, error)


def test_not_applicable_without_a_target_in_the_reference():
    schema = Schema(task="regression", numerical=["load"], prediction="pred")
    spec = ProfileSpec.fit(heteroscedastic(500, 4), schema, parts=["dle"])
    inputs = ReportInputs(spec.profile(heteroscedastic(500, 4)), spec.profile(heteroscedastic(500, 5)))
    estimated = performance_section(inputs)["estimated"]
    assert estimated["applicable"] is False and "target" in estimated["reason"]


def test_no_loss_model_is_fitted_when_every_current_row_has_its_target(tmp_path, monkeypatch):
    """A current file whose every row has its target leaves nothing to estimate: the loss models are
    not fitted, and the report is the one of fitting them and estimating nothing."""
    from modelmon.engine import build
    from modelmon.engine.build import build_report

    reference, current = tmp_path / "reference.parquet", tmp_path / "current.parquet"
    heteroscedastic(5_000, 0).to_parquet(reference)
    heteroscedastic(5_000, 1, shifted=True).to_parquet(current)
    sections = ["performance"]
    skipped = build_report(reference, current, SCHEMA, sections=sections)
    assert "dle" not in skipped.reference_profile.spec.state
    monkeypatch.setattr(build, "_nothing_to_estimate", lambda *arguments: ())
    fitted = build_report(reference, current, SCHEMA, sections=sections)
    assert "dle" in fitted.reference_profile.spec.state
    assert skipped.sections["performance"] == fitted.sections["performance"]
    estimated = skipped.sections["performance"]["estimated"]
    assert estimated["applicable"] is False and estimated["labelled_rows"] == 5_000
    assert "realized" in estimated["reason"]


def test_the_loss_models_are_fitted_when_a_current_row_lacks_its_target(tmp_path):
    from modelmon.engine.build import build_report

    reference, current = tmp_path / "reference.parquet", tmp_path / "current.parquet"
    heteroscedastic(5_000, 0).to_parquet(reference)
    frame = heteroscedastic(5_000, 1, shifted=True)
    frame.loc[4_999, "y"] = np.nan  # one row, the last of the file
    frame.to_parquet(current)
    report = build_report(reference, current, SCHEMA, sections=["performance"])
    assert "dle" in report.reference_profile.spec.state
    estimated = report.sections["performance"]["estimated"]
    assert estimated["applicable"] is True and estimated["rows"] == 1
    # a CSV file is not read twice to find out: the models are fitted
    frame.dropna().to_csv(tmp_path / "current.csv", index=False)
    from_csv = build_report(reference, tmp_path / "current.csv", SCHEMA, sections=["performance"])
    assert "dle" in from_csv.reference_profile.spec.state
