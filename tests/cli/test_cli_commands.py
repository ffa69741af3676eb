"""The ``modelmon`` command table: every command resolves, and a command loads only its own module."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from modelmon.cli import COMMANDS, cli

ROOT = Path(__file__).resolve().parents[2]


def test_every_command_of_the_table_resolves_under_its_own_name():
    context = click.Context(cli)
    names = cli.list_commands(context)
    assert len(names) == sum(len(attributes) for attributes in COMMANDS.values())
    for name in names:
        command = cli.get_command(context, name)
        assert command is not None and command.name == name
    assert cli.get_command(context, "no-such-command") is None
    listing = CliRunner().invoke(cli, ["--help"])
    assert listing.exit_code == 0 and all(name in listing.output for name in names)
    unknown = CliRunner().invoke(cli, ["no-such-command"])
    assert unknown.exit_code == 2 and "No such command" in unknown.output


def test_a_command_loads_only_its_own_module():
    code = (
        "import sys\n"
        "from modelmon.cli import cli\n"
        "try:\n"
        "    cli(['report', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(name for name in sys.modules if name.startswith('modelmon.cli.')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    # of the command modules of the table, report's own only (helpers such as its options may load)
    assert [name for name in loaded if name.rsplit(".", 1)[1] in COMMANDS] == ["modelmon.cli.report"]


_WITHOUT = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None  # as if the extra were not installed: importing it fails
from modelmon.cli import main
sys.argv = ["modelmon", *sys.argv[2:]]
main()
"""


@pytest.mark.parametrize(
    ("missing", "arguments", "extra"),
    [
        ("uvicorn,starlette", ["serve", "--config", "{config}"], "service"),
        ("prefect", ["batch", "--config", "{config}", "--model", "m", "--since", "1h"], "batch"),
        ("prefect", ["schedule", "--config", "{config}", "--every", "1h"], "batch"),
        ("dask,distributed", ["report", "{data}", "{data}", "--workers", "1"], "dask"),
    ],
)
def test_a_missing_extra_is_one_line_naming_what_to_install_and_exit_2(tmp_path, missing, arguments, extra):
    data = tmp_path / "data.csv"
    data.write_text("x,y\n" + "".join(f"{i},{i % 3}\n" for i in range(40)))
    config = tmp_path / "modelmon.yml"
    config.write_text(f"models:\n  m:\n    reference: {data}\n    numerical: [x]\n    prediction: y\n")
    filled = [argument.format(config=config, data=data) for argument in arguments]
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT, missing, *filled], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert f"pip install 'modelmon[{extra}]'" in done.stderr
    assert "Traceback" not in done.stderr
    assert "Ctrl-C" not in done.stdout  # a command that cannot run never announced that it runs


def test_a_config_error_is_exit_2_in_every_command(tmp_path):
    config = tmp_path / "modelmon.yml"
    config.write_text("models:\n  m:\n    numerical: [x]\n    colour: blue\n")
    data = tmp_path / "data.csv"
    data.write_text("x\n1\n")
    commands = [
        ["serve", "--config", str(config)],
        ["batch", "--config", str(config), "--model", "m"],
        ["report", str(data), str(data), "--config", str(config)],
        ["check", str(data), str(data), "--config", str(config)],
        ["targets", "upload", str(data), "--config", str(config), "--model", "m"],
        ["config", "from-evidently", str(config)],
    ]
    for command in commands:
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 2, (command, result.output)
        assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "arguments",
    [
        ["serve", "--config", "{config}", "--port", "0"],
        ["batch", "--config", "{config}", "--model", "m", "--since", "1h"],
    ],
)
def test_a_config_column_the_reference_lacks_is_exit_2_with_the_closest_name(tmp_path, arguments):
    data = tmp_path / "reference.csv"
    data.write_text("bmi,clinic,progression,pred\n" + "".join(f"{i},c{i % 3},{i},{i}\n" for i in range(40)))
    config = tmp_path / "modelmon.yml"
    config.write_text(
        f"store: sqlite:///{tmp_path / 'm.db'}\nreports_dir: {tmp_path}\nmodels:\n  m:\n"
        f"    reference: {data}\n    numerical: [bmi]\n    prediction: pred\n"
        "    target: progresion\n    segments: [clinc]\n"
    )
    filled = [argument.format(config=config) for argument in arguments]
    # without the check the service would start and serve until the timeout: a failure too
    done = subprocess.run(
        [sys.executable, "-m", "modelmon", *filled], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert "target 'progresion'" in done.stderr and "(did you mean 'progression'?)" in done.stderr
    assert "segments 'clinc'" in done.stderr and "(did you mean 'clinic'?)" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_demo_without_its_extra_stops_before_writing_data_or_starting_a_process(tmp_path):
    run = tmp_path / "demo-run"
    arguments = ["demo", "--data-dir", str(run), "--duration", "1", "--no-prometheus"]
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT, "orjson,flask", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "orjson, flask: needed for the demo: pip install 'modelmon[demo]'" in done.stderr
    assert "Traceback" not in done.stderr and not run.exists()


def test_the_demo_extra_installs_what_the_demo_imports():
    from modelmon.cli import EXTRAS
    from modelmon.cli.demo import DEMO_MODULES

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    # modelmon demo runs modelmon serve: its extra brings the service's, beside the prediction service's
    assert "modelmon[service]" in declared["demo"]
    assert {EXTRAS[name] for name in DEMO_MODULES} == {"service", "demo"}
