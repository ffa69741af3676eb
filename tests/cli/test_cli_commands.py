"""The ``modelmon`` command table: every command resolves, and a command loads only its own module."""

from __future__ import annotations

import subprocess
import sys

import click
from click.testing import CliRunner

from modelmon.cli import COMMANDS, cli


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
    assert result.stdout.strip().splitlines()[-1] == "['modelmon.cli.report']"
