"""``modelmon check``: exit codes, the terminal table, JUnit XML parsed back, JSON."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from modelmon.cli import cli


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)

    def make(rows, shift):
        x = rng.normal(5 + shift, 1, rows)
        return pd.DataFrame(
            {"x": x, "kind": rng.choice(["a", "b"], rows), "pred": 2 * x, "y": 2 * x + rng.normal(0, 1, rows)}
        )

    paths = {name: tmp_path / f"{name}.parquet" for name in ("reference", "like", "shifted")}
    make(2000, 0).to_parquet(paths["reference"])
    make(1500, 0).to_parquet(paths["like"])
    make(1500, 2).to_parquet(paths["shifted"])
    return paths


def run(*args):
    return CliRunner().invoke(cli, ["check", *map(str, args)])


def test_default_conditions_pass_on_like_data_and_exit_0(files, tmp_path):
    result = run(
        files["reference"],
        files["like"],
        "--prediction",
        "pred",
        "--target",
        "y",
        "--json",
        tmp_path / "c.json",
    )
    assert result.exit_code == 0, result.output
    assert "PASS" in result.output and "all passed" in result.output
    written = json.loads((tmp_path / "c.json").read_text())
    assert written["passed"] is True and written["conditions"] == "generated from the reference"


def test_a_failed_condition_exits_1_and_the_junit_file_says_which(files, tmp_path):
    conditions = tmp_path / "conditions.yml"
    conditions.write_text(
        "conditions:\n"
        "  - drift.dataset_drift == false\n"
        "  - check: quality.columns.x.missing_share < 0.05\n"
        "    name: few missing x\n"
        "  - current_rows >= 1000\n"
    )
    junit = tmp_path / "out" / "checks.xml"
    result = run(files["reference"], files["shifted"], "--conditions", conditions, "--junit", junit)
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output and "1 failed" in result.output
    root = ElementTree.parse(junit).getroot()
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "3" and suite.get("failures") == "1"
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {"drift.dataset_drift == false", "few missing x", "current_rows >= 1000"}
    failure = cases["drift.dataset_drift == false"].find("failure")
    assert failure is not None and failure.get("message") == "True is not == False"
    assert cases["few missing x"].find("failure") is None
    assert cases["few missing x"].get("classname") == "modelmon.quality"


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda f, t: [f["reference"], t / "nope.parquet"], "nope.parquet"),
        (lambda f, t: [f["reference"], f["like"], "--conditions", t / "none.yml"], "no such conditions file"),
        (
            lambda f, t: [f["reference"], f["like"], "--conditions", t / "bad.yml"],
            "expected PATH OPERATOR VALUE",
        ),
        (
            lambda f, t: [f["reference"], f["like"], "--conditions", t / "path.yml"],
            "the report has no drift.colums",
        ),
    ],
)
def test_usage_errors_exit_2_with_a_clear_message(files, tmp_path, make_args, message):
    (tmp_path / "bad.yml").write_text("- drift.dataset_drift is false\n")
    (tmp_path / "path.yml").write_text("- drift.colums.x.detected == false\n")
    result = run(*make_args(files, tmp_path))
    assert result.exit_code == 2, result.output
    assert message in result.output
