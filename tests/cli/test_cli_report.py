"""``modelmon report`` end to end on small generated data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from modelmon.cli.report import report


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(0)

    def make(n, shift):
        return pd.DataFrame(
            {
                "ride_id": [f"r{shift}-{i}" for i in range(n)],
                "distance": rng.exponential(3 + shift, n),
                "zone": rng.choice(["a", "b", "c"], n),
                "duration": rng.normal(15, 3, n),
            }
        )

    reference, current = tmp_path / "reference.parquet", tmp_path / "current.csv"
    make(400, 0).to_parquet(reference)
    current_frame = make(300, 3)
    current_frame.loc[:40, "zone"] = "new-zone"
    current_frame.to_csv(current, index=False)
    return reference, current


def test_writes_json_and_html_and_prints_a_summary(tmp_path, data):
    reference, current = data
    out_json, out_html = tmp_path / "out" / "report.json", tmp_path / "out" / "report.html"
    result = CliRunner().invoke(
        report,
        [
            str(reference),
            str(current),
            "--prediction",
            "duration",
            "--json",
            str(out_json),
            "--html",
            str(out_html),
        ],
    )
    assert result.exit_code == 0, result.output
    written = json.loads(out_json.read_text())
    assert written["current_rows"] == 300 and written["reference_rows"] == 400
    # inferred: the id-like string column is not a feature
    assert written["schema"]["numerical"] == ["distance"] and written["schema"]["categorical"] == ["zone"]
    assert written["quality"]["columns"]["zone"]["new_categories"] == {"new-zone": 41}
    assert "<table" in out_html.read_text()
    assert "Dataset drift" in result.output and str(out_json) in result.output
    assert "zone: 13.7% categories never seen in the reference" in result.output


def test_column_options_set_their_roles_and_the_rest_is_still_inferred(tmp_path, data):
    reference, current = data
    out_json = tmp_path / "r.json"
    args = [
        str(reference),
        str(current),
        "--categorical",
        "distance",
        "--id",
        "ride_id",
        "--json",
        str(out_json),
    ]
    result = CliRunner().invoke(report, args)
    assert result.exit_code == 0, result.output
    schema = json.loads(out_json.read_text())["schema"]
    # the flag took its column; the columns it did not name are inferred as without flags
    assert schema["categorical"] == ["distance", "zone"] and schema["numerical"] == ["duration"]
    assert schema["id"] == "ride_id"
    assert "categorical: [distance, zone]" in result.stderr


def test_only_given_keeps_the_features_to_those_named(tmp_path, data):
    reference, current = data
    out_json = tmp_path / "r.json"
    args = [str(reference), str(current), "--numerical", "distance", "--only-given", "--json", str(out_json)]
    result = CliRunner().invoke(report, args)
    assert result.exit_code == 0, result.output
    schema = json.loads(out_json.read_text())["schema"]
    assert schema["numerical"] == ["distance"] and schema["categorical"] == []
    assert "# not monitored: ride_id, zone, duration" in result.stderr


def test_schema_and_drift_settings_from_the_config(tmp_path, data):
    reference, current = data
    config = tmp_path / "modelmon.yml"
    config.write_text(
        "models:\n  rides:\n    task: regression\n    numerical: [distance]\n    categorical: [zone]\n"
        "    prediction: duration\n"
    )
    out_json = tmp_path / "r.json"
    args = [
        str(reference),
        str(current),
        "--config",
        str(config),
        "--model",
        "rides",
        "--json",
        str(out_json),
    ]
    result = CliRunner().invoke(report, args)
    assert result.exit_code == 0, result.output
    schema = json.loads(out_json.read_text())["schema"]
    assert schema["prediction"] == "duration" and schema["categorical"] == ["zone"]
    unknown = CliRunner().invoke(report, [*args[:4], "--model", "nope"])
    assert unknown.exit_code == 2 and "nope" in unknown.output and "rides" in unknown.output


@pytest.mark.parametrize("which", ["reference", "current"])
def test_bad_file_exits_2_and_names_it(tmp_path, data, which):
    reference, current = data
    missing = tmp_path / f"no_such_{which}.parquet"
    args = [str(missing), str(current)] if which == "reference" else [str(reference), str(missing)]
    result = CliRunner().invoke(report, args)
    assert result.exit_code == 2
    assert f"no_such_{which}.parquet" in result.output and "Traceback" not in result.output


def test_unknown_column_option_exits_2(data):
    reference, current = data
    result = CliRunner().invoke(report, [str(reference), str(current), "--numerical", "nothere"])
    assert result.exit_code == 2 and "nothere" in result.output


def test_registered_in_the_command_table():
    from modelmon.cli import COMMANDS

    assert COMMANDS["report"] == ("report",)
    assert CliRunner().invoke(report, ["--help"]).exit_code == 0


def test_sections_option_runs_only_those_sections(tmp_path, data):
    reference, current = data
    out_json = tmp_path / "r.json"
    args = [str(reference), str(current), "--prediction", "duration", "--json", str(out_json)]
    result = CliRunner().invoke(report, [*args, "--sections", "drift"])
    assert result.exit_code == 0, result.output
    written = json.loads(out_json.read_text())
    assert written["drift"]["columns"]["distance"]["detected"]
    assert written["quality"] == {
        "applicable": False,
        "reason": "the quality section was not requested for this report",
    }
    assert written["outliers"]["applicable"] is False
    assert "Dataset drift" in result.output and "Data quality issues" not in result.output
    bad = CliRunner().invoke(report, [*args, "--sections", "drift,speed"])
    assert bad.exit_code == 2 and "speed" in bad.output and "multivariate" in bad.output


def test_memory_budget_sizes_the_chunks_and_gives_the_same_report(tmp_path, data):
    reference, current = data
    outputs = []
    for budget in ("1MiB", "256MiB"):
        out = tmp_path / f"{budget}.json"
        result = CliRunner().invoke(
            report, [str(reference), str(current), "--memory-budget", budget, "--json", str(out)]
        )
        assert result.exit_code == 0, result.output
        written = json.loads(out.read_text())
        outputs.append({key: written[key] for key in ("current_rows", "drift")})
    assert outputs[0]["current_rows"] == 300
    assert json.dumps(outputs[0]["drift"]) == json.dumps(outputs[1]["drift"]) or outputs[0] == pytest.approx(
        outputs[1]
    )


def test_a_bad_memory_budget_exits_2_and_says_what_to_give(data):
    reference, current = data
    result = CliRunner().invoke(report, [str(reference), str(current), "--memory-budget", "lots"])
    assert result.exit_code == 2
    assert "'lots'" in result.output and "256MiB" in result.output


def test_chunk_rows_still_works_and_says_it_is_deprecated(tmp_path, data):
    reference, current = data
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        report, [str(reference), str(current), "--chunk-rows", "50", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "--chunk-rows is deprecated" in result.output
    assert json.loads(out.read_text())["current_rows"] == 300


_WITH_EXIT_HOOK = """
import atexit, sys
atexit.register(lambda: print("exit hooks ran", file=sys.stderr))
from modelmon.cli import main
sys.argv = ["modelmon", *sys.argv[1:]]
main()
"""


def test_a_finished_report_ends_the_process_at_once_with_its_output_flushed(tmp_path, data):
    import subprocess
    import sys

    reference, current = data
    out_json = tmp_path / "report.json"

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", _WITH_EXIT_HOOK, "report", *arguments]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    done = run(str(reference), str(current), "--json", str(out_json))
    assert done.returncode == 0, done.stderr
    # stdout is a pipe here (block-buffered): the summary reached it whole, the JSON is complete
    assert done.stdout.rstrip().endswith(f"Wrote {out_json}")
    assert json.loads(out_json.read_text())["current_rows"] == 300
    assert "exit hooks ran" not in done.stderr  # the interpreter was not torn down
    failed = run(str(reference), str(tmp_path / "missing.csv"))
    assert failed.returncode == 2 and "missing.csv" in failed.stderr
    assert "exit hooks ran" in failed.stderr  # an error ends the usual way


def _labelled(tmp_path, error_scale: float):
    rng = np.random.default_rng(5)
    paths = []
    for name, scale in (("reference", 1.0), ("current", error_scale)):
        x = rng.normal(0, 1, 500)
        y = 3 * x + 10
        frame = pd.DataFrame({"x": x, "pred": y + rng.normal(0, scale, 500), "y": y})
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
        paths.append(str(tmp_path / f"{name}.csv"))
    return paths


def test_the_closing_summary_shows_performance_when_there_are_labels(tmp_path):
    reference, current = _labelled(tmp_path, error_scale=3.0)
    result = CliRunner().invoke(report, [reference, current, "--prediction", "pred", "--target", "y"])
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("Performance")]
    mae_before, mae_after = (float(v) for v in line.split("mae ")[1].split(",")[0].split(" -> "))
    assert line.startswith("Performance (regression, 500 labelled rows): mae ") and mae_after > 2 * mae_before
    unlabelled = CliRunner().invoke(
        report, [reference, current, "--prediction", "pred", "--sections", "performance"]
    )
    assert "Performance: not measured (" in unlabelled.stdout


def test_probabilities_on_the_command_line_give_roc_auc_and_log_loss_and_are_not_features(tmp_path):
    rng = np.random.default_rng(8)
    paths = []
    for name in ("reference", "current"):
        x = rng.normal(0, 1, 600)
        proba = 1 / (1 + np.exp(-2 * x))
        label = (rng.random(600) < proba).astype(int)
        frame = pd.DataFrame({"x": x, "proba": proba, "pred": (proba > 0.5).astype(int), "label": label})
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
        paths.append(str(tmp_path / f"{name}.csv"))
    out = tmp_path / "report.json"
    args = [
        *paths,
        "--prediction",
        "pred",
        "--target",
        "label",
        "--probabilities",
        "proba",
        "--json",
        str(out),
    ]
    result = CliRunner().invoke(report, args)
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert written["schema"]["probabilities"] == ["proba"] and written["schema"]["task"] == "classification"
    assert "proba" not in written["schema"]["numerical"] + written["schema"]["categorical"]
    current = written["performance"]["current"]
    assert 0.7 < current["roc_auc"] <= 1 and current["log_loss"] > 0


def test_the_closing_summary_gives_no_verdict_when_no_feature_could_be_tested(tmp_path, data):
    reference, _ = data
    empty_features = pd.DataFrame({"ride_id": ["a", "b"], "distance": [np.nan] * 2, "zone": [None] * 2})
    current = tmp_path / "no-values.csv"
    empty_features.assign(duration=[15.0, 16.0]).to_csv(current, index=False)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(report, [str(reference), str(current), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["drift"]["dataset_drift"] is None
    # a report that could not test a feature never reads as a pass
    assert "Dataset drift: no verdict (0 of 0 tested features" in result.stdout
    assert "no drift" not in result.stdout
