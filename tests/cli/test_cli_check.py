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


def test_unrelated_current_data_exits_2_naming_the_missing_columns(files, tmp_path):
    unrelated = tmp_path / "unrelated.csv"
    pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}).to_csv(unrelated, index=False)
    result = run(files["reference"], unrelated)
    assert result.exit_code == 2, result.output
    assert "has no column(s) 'x', 'pred', 'y', 'kind' of the schema" in result.output
    assert "PASS" not in result.output


def test_a_current_file_without_rows_exits_2(files, tmp_path):
    empty = tmp_path / "empty.parquet"
    pd.read_parquet(files["like"]).iloc[:0].to_parquet(empty)
    result = run(files["reference"], empty)
    assert result.exit_code == 2, result.output
    assert "empty.parquet) has no rows" in result.output and "PASS" not in result.output


@pytest.mark.parametrize(
    ("option", "value", "suggestion"),
    [
        ("--target", "why", None),
        ("--target", "Y", "y"),
        ("--prediction", "prd", "pred"),
        ("--id", "kindd", "kind"),
        ("--timestamp", "time", None),
        ("--segments", "kinds", "kind"),
        ("--sensitive", "knd", "kind"),
        ("--numerical", "xx", "x"),
        ("--categorical", "kid", "kind"),
        ("--probabilities", "pred_", "pred"),
    ],
)
def test_a_column_option_naming_no_reference_column_exits_2_with_a_suggestion(
    files, option, value, suggestion
):
    result = run(files["reference"], files["like"], option, value)
    assert result.exit_code == 2, result.output
    role = option.removeprefix("--")
    assert f"{role} {value!r}: the reference ({files['reference']}) has no such column" in result.output
    if suggestion is not None:
        assert f"(did you mean {suggestion!r}?)" in result.output


def test_a_config_key_naming_no_reference_column_exits_2_with_a_suggestion(files, tmp_path):
    config = tmp_path / "modelmon.yml"
    config.write_text("models:\n  m:\n    numerical: [x]\n    categorical: [kind]\n    target: progresion\n")
    (tmp_path / "ref.csv").write_text("x,kind,progression\n1,a,2\n")
    result = run(tmp_path / "ref.csv", files["like"], "--config", config)
    assert result.exit_code == 2, result.output
    assert "target 'progresion'" in result.output and "(did you mean 'progression'?)" in result.output


def test_partial_column_options_leave_the_other_columns_inferred_and_checked(files, tmp_path):
    shifted = pd.read_parquet(files["shifted"])
    shifted.loc[shifted.index[:300], "x"] = np.nan
    current = tmp_path / "current.parquet"
    shifted.to_parquet(current)
    out = tmp_path / "checks.json"
    result = run(files["reference"], current, "--categorical", "kind", "--json", out)
    assert result.exit_code == 1, result.output
    assert "numerical: [x, pred, y]" in result.output and "categorical: [kind]" in result.output
    failed = {check["name"] for check in json.loads(out.read_text())["checks"] if not check["passed"]}
    assert {"no dataset drift", "x: missing share"} <= failed


def test_check_takes_the_column_options_of_report(files, tmp_path):
    out = tmp_path / "checks.json"
    result = run(files["reference"], files["like"], "--numerical", "x", "--only-given", "--json", out)
    assert result.exit_code == 0, result.output
    names = [check["name"] for check in json.loads(out.read_text())["checks"]]
    assert "x: missing share" in names and not any(name.startswith("kind") for name in names)


def test_struct_and_list_columns_are_left_out_of_an_inferred_schema_and_refused_when_named(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    n = 200
    table = pa.table(
        {
            "x": rng.normal(0, 1, n),
            "attributes": [{"a": int(i)} for i in range(n)],
            "tags": [["t", str(i % 3)] for i in range(n)],
        }
    )
    path = tmp_path / "nested.parquet"
    pq.write_table(table, path)
    inferred = run(path, path)
    assert inferred.exit_code == 0, inferred.output
    assert "# not monitored: attributes (struct<a: int64>), tags (list<element: string>)" in inferred.output
    named = run(path, path, "--categorical", "tags")
    assert named.exit_code == 2, named.output
    assert "categorical 'tags': a list<element: string> column" in named.output
    assert "Traceback" not in named.output
