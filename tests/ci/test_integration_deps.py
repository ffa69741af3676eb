"""`make test`'s first step, .ci/integration-deps: install the integration tests' system packages when
it can, else say loudly which tests will skip and the command that installs what they need."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FAKE = "modelmon-fake-tool"


def _checkout(tmp_path: Path) -> Path:
    """A copy of the script in a throwaway tree whose one test needs a binary no machine has."""
    (tmp_path / ".ci").mkdir()
    shutil.copy(REPO / ".ci" / "integration-deps", tmp_path / ".ci" / "integration-deps")
    (tmp_path / ".ci" / "system-deps").write_text(f"touch {tmp_path}/installed\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_needs_it.py").write_text(f'require_binary("{FAKE}")\n')
    os.chmod(tmp_path, 0o755)
    return tmp_path


def _run(checkout: Path, *prefix: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "MODELMON_CHECK_BINARIES": f"{FAKE} sh"}
    command = [*prefix, "bash", str(checkout / ".ci" / "integration-deps")]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=30)


def test_the_makefile_runs_it_before_the_tests():
    recipe = (REPO / "Makefile").read_text().split("\ntest: venv\n", 1)[1].splitlines()
    assert recipe[0].strip() == "@bash .ci/integration-deps"


def test_without_root_or_sudo_it_names_the_skipping_tests_and_the_install_command():
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run the script as an unprivileged user")
    # pytest's own temporary folders are private to root; this one the unprivileged user can read
    with tempfile.TemporaryDirectory() as folder:
        checkout = _checkout(Path(folder))
        result = _run(checkout, "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups")
        installed = (checkout / "installed").exists()
    assert result.returncode == 0, result.stderr
    assert f"WARNING: missing {FAKE}" in result.stderr
    assert "1 test files will SKIP" in result.stderr and "tests/test_needs_it.py" in result.stderr
    assert "sudo make system-deps" in result.stderr
    assert not installed


def test_as_root_it_runs_the_installer_first(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    checkout = _checkout(tmp_path)
    result = _run(checkout)
    assert "Installing the system packages" in result.stdout
    assert (checkout / "installed").exists()
    assert "WARNING" in result.stderr  # the fake binary is still missing after the fake installer


def test_nothing_is_said_when_everything_is_there(tmp_path):
    checkout = _checkout(tmp_path)
    env = {"PATH": os.environ["PATH"], "MODELMON_CHECK_BINARIES": "sh bash"}
    result = subprocess.run(
        ["bash", str(checkout / ".ci" / "integration-deps")], capture_output=True, text=True, env=env
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
