"""The commands the image and the compose file run exist in the CLI, with every option they pass."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from prometheus_harness import DEPLOY, REPO

BIN = Path(sys.executable).parent
COMPOSE = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
#: the Dockerfile's two images: the services' and the batch flow's (with Prefect)
MODELMON_IMAGES = {COMPOSE["x-modelmon"]["image"], COMPOSE["x-modelmon-batch"]["image"]}
#: the override files' own services on the modelmon image (the sharded monitoring processes)
OVERRIDES = {
    f"{path.name} {name}": service
    for path in sorted(DEPLOY.glob("docker-compose.*.yml"))
    for name, service in (yaml.safe_load(path.read_text()).get("services") or {}).items()
    if name not in COMPOSE["services"]
}


def dockerfile_instruction(name: str) -> list[str]:
    """The exec-form (JSON list) arguments of the Dockerfile's last ``name`` instruction."""
    lines = re.findall(rf"^{name}\s+(\[.*\])\s*$", (REPO / "Dockerfile").read_text(), re.MULTILINE)
    assert lines, f"Dockerfile has no exec-form {name}"
    return json.loads(lines[-1])


def command_lines() -> list[tuple[str, list[str]]]:
    """(where, full argv) of every command the image runs: its default and each compose service's."""
    found = [("Dockerfile", dockerfile_instruction("ENTRYPOINT") + dockerfile_instruction("CMD"))]
    services = {**COMPOSE["services"], **OVERRIDES}
    for name, service in services.items():
        if service.get("image") not in MODELMON_IMAGES:
            continue
        entrypoint = service.get("entrypoint") or dockerfile_instruction("ENTRYPOINT")
        found.append((f"compose service {name}", [*entrypoint, *service.get("command", [])]))
    return found


COMMANDS = command_lines()


def test_the_image_runs_modelmon_by_default() -> None:
    assert dockerfile_instruction("ENTRYPOINT") == ["modelmon"]
    assert dockerfile_instruction("CMD")[:3] == ["serve", "--config", "/etc/modelmon/modelmon.yml"]
    assert any(where == "compose service prefect-server" for where, _ in COMMANDS)


@pytest.mark.parametrize(("where", "argv"), COMMANDS, ids=[where for where, _ in COMMANDS])
def test_command_and_options_exist(where: str, argv: list[str]) -> None:
    program, *args = argv
    # Sub-commands are the leading words; the rest are options and their values.
    words = []
    for arg in args:
        if arg.startswith("-"):
            break
        words.append(arg)
    help_run = subprocess.run(
        [str(BIN / program), *words, "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert help_run.returncode == 0, (
        f"{where}: `{program} {' '.join(words)} --help` failed: {help_run.stderr}"
    )
    for option in (arg.split("=")[0] for arg in args if arg.startswith("--")):
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_run.stdout), (
            f"{where}: `{program} {' '.join(words)}` has no option {option}"
        )


def test_the_traffic_simulator_injects_a_known_incident() -> None:
    from modelmon.demo.incidents import INCIDENTS

    command = COMPOSE["services"]["traffic"]["command"]
    assert command[command.index("--incident") + 1] in INCIDENTS
