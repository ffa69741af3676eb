"""The code blocks of the README, the getting-started and the how-to pages run, in page order, so they
cannot go stale.

Each page runs in a folder of its own: the README and getting started from an empty one (their
first command writes the demo data), a how-to page from one holding ``data/`` as ``modelmon
demo-data --out data`` writes it, which the how-to pages say they start from. A fenced block:

- ``bash`` or ``python``: runs and must succeed;
- with a ``title="FILE"``: is written to FILE first (a conditions file, a config);
- after ``<!-- docs-test: background (...) -->``: starts in the background (``modelmon serve``), and
  the next blocks run once its ``/health`` answers; port 8085 of the page becomes a free port;
- after ``<!-- docs-test: skip (reason) -->``: does not run (it needs a cluster, a Docker engine, a
  Prefect server or a web app around it); Python must still compile;
- ``yaml``: must parse.

Every ``modelmon`` command line of every block, run or not, must name an existing command with
options it has, which is how the old README's synopsis went stale (``--chunk-rows`` only).
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
import yaml

from integration_support import free_port, require_binary, stop_process
from modelmon.cli import cli
from modelmon.demo.stack import wait_for_http

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
#: the deployment page is deploy/README.md, whose commands need a Docker engine (tests/deploy checks them)
PAGES = [
    "README.md",
    "getting-started.md",
    *sorted(f"how-to/{p.name}" for p in (DOCS / "how-to").glob("*.md")),
]
PAGES.remove("how-to/deployment.md")
#: pages whose first block writes the demo data
FROM_EMPTY = {"README.md", "getting-started.md"}
FENCE = re.compile(r'^```(\w*)(?:[^\n]*?title="([^"]+)")?[^\n]*\n(.*?)^```', re.MULTILINE | re.DOTALL)
MARKER = re.compile(r"<!-- docs-test: (skip|background) \((.+?)\) -->\s*$")

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@dataclass(frozen=True)
class Block:
    language: str
    code: str
    title: str | None
    marker: str | None
    line: int


def blocks(page: str) -> list[Block]:
    text = (ROOT / page if page == "README.md" else DOCS / page).read_text()
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.search(before)
        found.append(
            Block(
                match.group(1),
                match.group(3),
                match.group(2),
                marker.group(1) if marker else None,
                text.count("\n", 0, match.start()) + 1,
            )
        )
    return found


def modelmon_commands(code: str) -> list[list[str]]:
    """Each ``modelmon`` command of a block: its words and options (synopsis brackets dropped)."""
    commands = []
    for line in code.replace("\\\n", " ").splitlines():
        line = line.split("#", 1)[0].split("|", 1)[0].split(">", 1)[0]
        words = re.sub(r"[\[\]]", " ", line).split()
        if words[:1] == ["modelmon"]:
            commands.append(words[1:])
    return commands


def check_command(words: list[str], where: str) -> None:
    command: click.Command = cli
    context = click.Context(cli)
    rest = list(words)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        found = command.get_command(context, name)
        assert found is not None, f"{where}: `modelmon {' '.join(words)}`: no command {name!r}"
        command = found
    known = {"--help"} | {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for option in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", " ".join(rest)):
        assert option in known, (
            f"{where}: `modelmon {' '.join(words)}`: {command.name} has no option {option}"
        )


def test_every_page_is_covered_and_every_block_is_understood():
    assert {"README.md", "getting-started.md", "how-to/checks.md"} <= set(RUNNABLE)
    for page in PAGES:
        for block in blocks(page):
            assert block.language in ("bash", "python", "yaml", "text"), (
                f"{page}:{block.line}: a block in {block.language!r}: say bash, python, yaml or text"
            )


@pytest.mark.parametrize("page", PAGES)
def test_every_modelmon_command_of_a_page_exists_with_its_options(page):
    for block in blocks(page):
        for words in modelmon_commands(block.code):
            check_command(words, f"{page}:{block.line}")
        if block.language == "python":
            compile(block.code, f"{page}:{block.line}", "exec")
        if block.language == "yaml":
            yaml.safe_load(block.code)


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    subprocess.run(
        [sys.executable, "-m", "modelmon", "demo-data", "--out", str(folder / "data")],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return folder / "data"


def _running(process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is None


def _run(block: Block, code: str, folder: Path, env: dict[str, str], where: str) -> None:
    if block.language == "bash":
        argv = ["bash", "-euo", "pipefail", "-c", code]
    else:
        argv = [sys.executable, "-c", code]
    done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (
        f"{where} failed ({done.returncode}):\n{code}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )


def _runnable(page: str) -> list[Block]:
    return [block for block in blocks(page) if block.marker != "skip"]


#: pages with a block to run (the others' blocks each say why they do not run)
RUNNABLE = [page for page in PAGES if any(block.language in ("bash", "python") for block in _runnable(page))]


@pytest.mark.parametrize("page", RUNNABLE)
def test_the_blocks_of_a_page_run_in_order(page, tmp_path, request):
    page_blocks = _runnable(page)
    if any("curl " in block.code for block in page_blocks):
        require_binary("curl")
    if page not in FROM_EMPTY:
        shutil.copytree(request.getfixturevalue("demo_data"), tmp_path / "data")
    port = str(free_port())
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    background = []
    try:
        for block in page_blocks:
            where = f"{page}:{block.line}"
            code = block.code.replace("8085", port)
            if block.title:
                (tmp_path / block.title).write_text(code)
            elif block.marker == "background":
                log = tmp_path / f"background-{block.line}.log"
                with log.open("wb") as output:
                    process = subprocess.Popen(
                        shlex.split(code.split("#", 1)[0]), cwd=tmp_path, env=env, stdout=output,
                        stderr=subprocess.STDOUT, start_new_session=True,
                    )  # fmt: skip
                background.append(process)
                up = wait_for_http(
                    f"http://127.0.0.1:{port}/health", 120, functools.partial(_running, process)
                )
                assert up, f"{where}: no answer at /health within 120 s:\n{log.read_text()[-3000:]}"
            elif block.language in ("bash", "python"):
                _run(block, code, tmp_path, env, where)
    finally:
        for process in background:
            stop_process(process)
