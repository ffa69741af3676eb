"""Prometheus config, rules and their unit tests, Alertmanager config, and the rules generator."""

from __future__ import annotations

import doctest
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml
from prometheus_harness import (
    DEPLOY,
    DESIGNED_SERIES,
    RULES,
    iter_rule_exprs,
    load_generator,
    recorded_names,
    require_tool,
    series_names,
    unguarded_divisions,
    with_secrets,
)

PROMETHEUS = DEPLOY / "prometheus"
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
generate = load_generator("prometheus")


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return run(require_tool("promtool", "prometheus"), *args)


def test_promtool_accepts_the_config(tmp_path: Path) -> None:
    # the shipped config with its token file where promtool can find it, and its rules beside it
    config = with_secrets(yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text()), tmp_path)
    shutil.copytree(RULES, tmp_path / "rules")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    result = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 rule files found" in result.stdout


def test_promtool_accepts_the_rules() -> None:
    result = promtool("check", "rules", *map(str, sorted(RULES.glob("*.yml"))))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rule_unit_tests_pass() -> None:
    result = promtool("test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested_firing_and_silent() -> None:
    alerts = {name for name, _ in iter_rule_exprs() if not name.startswith("modelmon:")}
    fired, silent = set(), set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else silent).add(check["alertname"])
    assert alerts - fired == set(), "alerts never shown firing"
    assert alerts - silent == set(), "alerts never shown silent"


def test_amtool_accepts_the_alertmanager_config() -> None:
    amtool = require_tool("amtool", "prometheus-alertmanager")
    result = run(amtool, "check-config", str(DEPLOY / "alertmanager" / "alertmanager.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_checked_in_rules_are_the_generators_output() -> None:
    expected = generate.render(generate.load_thresholds())
    for name, text in expected.items():
        assert (RULES / name).read_text() == text, f"run python deploy/prometheus/generate.py ({name})"
    assert {p.name for p in RULES.glob("*.yml")} == set(expected)


def test_generator_doctests() -> None:
    assert doctest.testmod(generate).failed == 0


def test_rules_use_only_the_designed_series() -> None:
    for name, expr in iter_rule_exprs():
        used = set(series_names(expr))
        assert used <= DESIGNED_SERIES | recorded_names(), f"{name} uses {used - DESIGNED_SERIES}"


def test_no_rule_divides_by_a_series_that_may_be_zero() -> None:
    for name, expr in iter_rule_exprs():
        assert unguarded_divisions(expr) == [], name


def test_a_model_override_gets_its_own_alert_and_the_default_skips_it(tmp_path: Path) -> None:
    thresholds = generate.load_thresholds()
    thresholds["models"] = {
        "credit-approval": {"outlier_share": {"threshold": 0.3, "for": "1m"}},
        "churn.v2": {"outlier_share": {"threshold": 0.01}},
    }
    for name, text in generate.render(thresholds).items():
        (tmp_path / name).write_text(text)
    # credit-approval (0.3): 0.2 is fine, 0.4 fires; churn.v2 (0.01): 0.02 fires; others (0.05): 0.2 fires,
    # and "churnxv2" is not mistaken for "churn.v2" by the default rule's regex.
    (tmp_path / "override_test.yml").write_text(
        textwrap.dedent("""
        rule_files: [recording.yml, alerts.yml]
        evaluation_interval: 1m
        tests:
          - interval: 1m
            input_series:
              - {series: 'modelmon_outlier_share{model="credit-approval", instance="a"}', values: '0.2x30'}
              - {series: 'modelmon_outlier_share{model="credit-approval", instance="b"}', values: '0.4x30'}
              - {series: 'modelmon_outlier_share{model="churn.v2"}', values: '0.02x30'}
              - {series: 'modelmon_outlier_share{model="churnxv2"}', values: '0.2x30'}
            alert_rule_test:
              - eval_time: 20m
                alertname: ModelmonOutlierShareHigh
                exp_alerts:
                  - exp_labels: {severity: warning, model: churnxv2}
                    exp_annotations:
                      summary: Many outliers in the inputs of churnxv2
                      description: Share of outlier rows is 20%.
                  - exp_labels: {severity: warning, thresholds: churn.v2, model: churn.v2}
                    exp_annotations:
                      summary: Many outliers in the inputs of churn.v2
                      description: Share of outlier rows is 2%.
                  - exp_labels:
                      {severity: warning, thresholds: credit-approval, model: credit-approval, instance: b}
                    exp_annotations:
                      summary: Many outliers in the inputs of credit-approval
                      description: Share of outlier rows is 40%.
    """)
    )
    result = promtool("test", "rules", str(tmp_path / "override_test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    result = promtool("check", "rules", str(tmp_path / "alerts.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"defaults": {"outlier_share": None}}, "must be a mapping"),
        ({"models": {"m": {"outlier_shar": {"threshold": 1}}}}, "models.m.outlier_shar is not an alert"),
        ({"models": {"m": {"outlier_share": {"limit": 1}}}}, "must be a mapping of 'threshold' and 'for'"),
        ({"models": {"m": {"service_down": {"for": "1m"}}}}, "models.m.service_down applies to services"),
    ],
)
def test_a_wrong_thresholds_file_is_named_in_the_error(change: dict, message: str) -> None:
    thresholds = generate.load_thresholds()
    for key, value in change.items():
        thresholds[key] = {**(thresholds.get(key) or {}), **value}
    with pytest.raises(ValueError, match=message):
        generate.render(thresholds)


def test_a_missing_default_is_named_in_the_error() -> None:
    thresholds = generate.load_thresholds()
    del thresholds["defaults"]["service_down"]
    with pytest.raises(ValueError, match="defaults has no entry 'service_down'"):
        generate.render(thresholds)


def test_the_readme_table_states_every_alert_with_its_current_defaults() -> None:
    rows = {}
    for line in (DEPLOY / "README.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`Modelmon"):
            rows[cells[0].strip("`")] = (cells[2].strip("`"), cells[3])
    alerts = {spec.name: spec.key for spec in generate.ALERTS}
    assert set(rows) == set(alerts)
    defaults = generate.load_thresholds()["defaults"]
    for name, (key, stated) in rows.items():
        assert key == alerts[name], name
        setting = defaults[key]
        threshold = f"{setting['threshold']:g}" if "threshold" in setting else None
        if setting["for"] in ("0m", "0s"):
            expected = f"{threshold}, at once"
        else:
            expected = f"{threshold} for {setting['for']}" if threshold else f"for {setting['for']}"
        assert stated == expected, name
