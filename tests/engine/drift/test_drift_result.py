"""data_drift over whole profiles: roles, dataset drift share, correction, report JSON, errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from drift_cases import profiles

from modelmon.config import DriftSettings
from modelmon.engine import drift
from modelmon.engine.drift import ColumnDrift, DriftResult, data_drift
from modelmon.errors import ConfigError, InputError, SchemaError
from modelmon.schema import Schema

RNG = np.random.default_rng(17)
SCHEMA = Schema(
    task="classification",
    numerical=["f1", "f2", "f3", "f4"],
    categorical=["zone"],
    prediction="label",
    probabilities=["score"],
    target="actual",
)


def _frame(rows: int, shifted: tuple[str, ...] = ()) -> pd.DataFrame:
    def shift(name: str) -> float:
        return 3.0 if name in shifted else 0.0

    return pd.DataFrame(
        {
            **{name: RNG.normal(shift(name), 1, rows) for name in ("f1", "f2", "f3", "f4")},
            "zone": RNG.choice(["d", "e"] if "zone" in shifted else ["a", "b", "c"], rows),
            "label": RNG.choice(["yes"] if "label" in shifted else ["yes", "no"], rows),
            "score": RNG.uniform(shift("score"), 1 + shift("score"), rows),
            "actual": RNG.choice(["yes", "no"], rows),
        }
    )


def test_the_public_surface() -> None:
    assert drift.__all__ == ["DRIFT_TESTS", "Choice", "ColumnDrift", "DriftResult", "DriftTest", "data_drift"]


def test_roles_and_the_report_json_shape() -> None:
    reference, current = profiles(_frame(3000), _frame(2000, ("f1", "label")), SCHEMA)
    result = data_drift(reference, current).to_dict()
    assert set(result) >= {"dataset_drift", "drifted_share", "drifted_count", "share_threshold", "columns"}
    roles = {name: column["role"] for name, column in result["columns"].items()}
    assert roles == {
        **dict.fromkeys(["f1", "f2", "f3", "f4", "zone"], "feature"),
        "label": "prediction",
        "score": "probability",
        "actual": "target",
    }
    for column in result["columns"].values():
        assert set(column) >= {"method", "score", "threshold", "detected", "p_value", "kind"}
    assert result["columns"]["f1"]["method"] == "wasserstein" and result["columns"]["f1"]["p_value"] is None
    assert result["columns"]["zone"]["method"] == "jensenshannon"
    assert result["columns"]["label"]["detected"] and result["columns"]["f1"]["detected"]
    json.dumps(result, allow_nan=False)


def test_dataset_drift_counts_features_only() -> None:
    # the prediction and the probability drift too, but only features make the dataset share
    reference, current = profiles(_frame(3000), _frame(2000, ("f1", "f2", "label", "score")), SCHEMA)
    result = data_drift(reference, current)
    detected = {name for name, column in result.columns.items() if column.detected}
    assert detected == {"f1", "f2", "label", "score"}
    assert (result.drifted_count, result.drifted_share, result.dataset_drift) == (2, 0.4, False)
    reference, current = profiles(_frame(3000), _frame(2000, ("f1", "f2", "zone")), SCHEMA)
    result = data_drift(reference, current)
    assert (result.drifted_count, result.drifted_share, result.dataset_drift) == (3, 0.6, True)
    stricter = data_drift(reference, current, DriftSettings(dataset_share=0.7))
    assert (stricter.share_threshold, stricter.dataset_drift) == (0.7, False)


def test_untested_features_are_left_out_of_the_share() -> None:
    current = _frame(2000, ("f1",)).drop(columns=["f2", "f3", "actual"])
    reference, current_profile = profiles(_frame(3000), current, SCHEMA)
    result = data_drift(reference, current_profile)
    assert "absent" in result.columns["f2"].note and result.columns["actual"].score is None
    assert (result.drifted_count, result.to_dict()["tested_features"], result.drifted_share) == (1, 3, 1 / 3)


def test_no_dataset_verdict_when_no_feature_could_be_tested() -> None:
    current = _frame(2000, ("label",)).drop(columns=["f1", "f2", "f3", "f4", "zone"])
    reference, current_profile = profiles(_frame(3000), current, SCHEMA)
    result = data_drift(reference, current_profile)
    assert result.columns["label"].detected  # the prediction was tested, but it is not a feature
    assert (result.drifted_share, result.dataset_drift) == (None, None)
    assert result.to_dict()["tested_features"] == 0


def test_benjamini_hochberg_adjusts_p_values_across_columns() -> None:
    reference, current = profiles(_frame(800), _frame(600, ("f1",)), SCHEMA)
    plain = data_drift(reference, current)
    corrected = data_drift(reference, current, DriftSettings(correction="bh"))
    family = [name for name, column in plain.columns.items() if column.p_value is not None]
    assert len(family) == len(plain.columns)  # a small reference: every column gets a p-value test
    expected = scipy.stats.false_discovery_control([plain.columns[name].p_value for name in family])
    adjusted = [corrected.columns[name].p_value_adjusted for name in family]
    assert adjusted == pytest.approx(expected, rel=1e-12)
    for name in family:
        column = corrected.columns[name]
        assert column.p_value == plain.columns[name].p_value
        assert column.detected == (column.p_value_adjusted < column.threshold)
    assert corrected.to_dict()["correction"] == "bh"


def test_per_column_settings_reach_the_result() -> None:
    reference, current = profiles(_frame(3000), _frame(2000), SCHEMA)
    overrides = {"f1": {"method": "psi", "threshold": 0.2}, "zone": {"method": "chisquare"}}
    settings = DriftSettings(columns=overrides)
    result = data_drift(reference, current, settings, columns=["f1", "zone"])
    assert list(result.columns) == ["f1", "zone"]
    assert (result.columns["f1"].method, result.columns["f1"].threshold) == ("psi", 0.2)
    assert result.columns["zone"].method == "chisquare" and result.columns["zone"].p_value is not None


def test_an_infinite_statistic_is_exported_as_null_with_a_note() -> None:
    reference, current = profiles(_frame(500), _frame(400, ("zone",)), SCHEMA)
    column = data_drift(reference, current).columns["zone"]
    assert (column.method, column.score, column.p_value, column.detected) == ("chisquare", np.inf, 0.0, True)
    exported = column.to_dict()
    assert exported["score"] is None and "infinite statistic" in exported["note"]


def test_errors_name_the_problem() -> None:
    reference, current = profiles(_frame(300), _frame(300), SCHEMA)
    with pytest.raises(InputError, match=r"cannot test drift of column\(s\) \['nope'\]"):
        data_drift(reference, current, columns=["nope"])
    with pytest.raises(ConfigError, match="unknown drift method"):
        data_drift(reference, current, DriftSettings(method="magic"))
    other, _ = profiles(_frame(300), _frame(300), Schema(numerical=["f1"]))
    with pytest.raises(SchemaError, match="different reference specs"):
        data_drift(other, current)


def test_serialized_profiles_give_the_same_result() -> None:
    from modelmon.engine.profile import Profile

    reference, current = profiles(_frame(3000), _frame(2000, ("f3",)), SCHEMA)
    restored = [
        Profile.from_dict(json.loads(json.dumps(profile.to_dict())), reference.spec)
        for profile in (reference, current)
    ]
    assert data_drift(*restored).to_dict() == data_drift(reference, current).to_dict()


def test_result_types() -> None:
    reference, current = profiles(_frame(300), _frame(300), SCHEMA)
    result = data_drift(reference, current)
    assert isinstance(result, DriftResult)
    assert all(isinstance(column, ColumnDrift) for column in result.columns.values())


@pytest.mark.parametrize("settings", [DriftSettings(), DriftSettings(method="ks", correction="bh")])
def test_choices_kept_between_calls_give_the_results_of_choosing_afresh(settings: DriftSettings) -> None:
    from modelmon.engine.profile import ProfileSpec

    def frame(rows: int, few: int, names: list[str]) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "f1": RNG.normal(0, 1, rows).round(1),
                "f2": RNG.integers(0, few, rows).astype(float),  # few values: the current may decide
                "f3": RNG.integers(0, 9, rows).astype(float),
                "f4": RNG.normal(0, 1, rows),
                "zone": RNG.choice(names, rows),
                "label": RNG.choice(["yes", "no"], rows),
                "score": RNG.uniform(0, 1, rows),
                "actual": RNG.choice(["yes", "no"], rows),
            }
        )

    for rows in (800, 1500):  # p-value tests, then distances
        spec = ProfileSpec.fit(frame(rows, 4, ["a", "b"]), SCHEMA)
        reference = spec.profile(frame(rows, 4, ["a", "b"]))
        choices: dict[str, drift.Choice] = {}
        for few, names in ((4, ["a", "b"]), (1, ["a"]), (7, ["a", "b", "c", "d"]), (2, ["a", "c"])):
            current = spec.profile(frame(300, few, names))
            kept = data_drift(reference, current, settings, choices=choices).to_dict()
            assert kept == data_drift(reference, current, settings).to_dict()
        assert {"f1", "f4"} <= set(choices) and ("f2" in choices) == (settings.method == "ks")
