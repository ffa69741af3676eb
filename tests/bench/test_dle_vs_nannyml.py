"""modelmon's DLE against NannyML's on the same files, when NannyML's environment exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from integration_support import need

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_estimated_mae_and_rmse_are_within_two_percent_of_nannyml(tmp_path, monkeypatch):
    """On 20,000 current rows, half of them sampled: within 2% of NannyML's estimate over every row,
    and within four of its own standard errors of modelmon's estimate over every row."""
    monkeypatch.syspath_prepend(str(ROOT))
    from bench.harness import nannyml_python

    from bench import dle_vs_nannyml

    need(
        nannyml_python(create=False) is not None,
        "NannyML's environment bench/.venv-nannyml is missing (python -m bench.dle_vs_nannyml creates it)",
    )
    (row,) = dle_vs_nannyml.run(20_000, [0], tmp_path, scenarios=("load shifted",))
    ours = row["modelmon"]
    assert ours["sampled_rows"] == 10_000
    for metric in ("mae", "rmse"):
        assert abs(row[f"{metric}_vs_nannyml"]) < 0.02, row
        assert abs(row[f"{metric}_vs_realized"]) < 0.10, row
        assert abs(ours[metric] - ours["every_row"][metric]) < 4 * ours["sampling_error"][metric], row
    assert row["realized"]["mae"] > 2.0  # the shifted scenario, where the error grew
