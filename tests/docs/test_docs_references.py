"""Every test and benchmark the docs name exists, so a promise never points at a renamed test.

A guarantee, a comparison row or a figure in the docs names the test that fails if it breaks
(``tests/service/test_x.py::test_y``, or ``::test_z`` for another test of the file named before it)
and the command that measured it (``python -m bench.NAME``). Tests are renamed and moved every
day; this reads the README, the deployment and benchmark READMEs, the changelog and every page of
``docs/`` and checks each named file exists and defines each named test. ``bench/RESULTS.md`` is a
dated record of runs and keeps the names of its day.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    str(page.relative_to(ROOT))
    for page in [
        ROOT / "README.md",
        ROOT / "CHANGELOG.md",
        ROOT / "deploy" / "README.md",
        ROOT / "bench" / "README.md",
        *(ROOT / "docs").rglob("*.md"),
    ]
)
#: a test file with its tests (``tests/a.py::test_b::test_c``), or a test of the file named before
TEST = re.compile(
    r"(?<![\w/.-])(tests/[\w/.-]+\.(?:py|yml|yaml))((?:::[\w\[\]-]+)*)|(?<![\w/.:-])::(test_\w+)"
)
BENCH = re.compile(r"(?<![\w/.-])bench\.([a-z][a-z0-9_]*)")


@functools.cache
def defined(path: Path) -> frozenset[str]:
    """Names of the functions and classes of a Python file, at any depth."""
    tree = ast.parse(path.read_text())
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return frozenset(node.name for node in ast.walk(tree) if isinstance(node, kinds))


def missing_tests(page: str) -> list[str]:
    missing = []
    last: Path | None = None
    for number, line in enumerate((ROOT / page).read_text().splitlines(), 1):
        for match in TEST.finditer(line):
            where = f"{page}:{number}"
            if match.group(1):
                last = ROOT / match.group(1)
                if not last.is_file():
                    missing.append(f"{where}: {match.group(1)} does not exist")
                    continue
                tests = [name for name in match.group(2).split("::") if name]
            elif last is None:
                missing.append(f"{where}: ::{match.group(3)} follows no test file")
                continue
            else:
                tests = [match.group(3)]
            if last.suffix != ".py" or not last.is_file():
                continue
            for test in tests:
                if test.split("[", 1)[0] not in defined(last):
                    missing.append(f"{where}: {last.relative_to(ROOT)} has no {test.split('[', 1)[0]}")
    return missing


@pytest.mark.parametrize("page", PAGES)
def test_every_test_a_page_names_exists(page):
    assert not missing_tests(page)


@pytest.mark.parametrize("page", PAGES)
def test_every_benchmark_a_page_names_exists(page):
    text = (ROOT / page).read_text()
    named = set(BENCH.findall(text))
    absent = sorted(n for n in named if not (ROOT / "bench" / f"{n}.py").is_file())
    assert not absent, f"{page} names benchmarks bench/ does not have: {absent}"


def test_a_renamed_test_or_a_moved_file_is_found(tmp_path, monkeypatch):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("def test_kept():\n    pass\n")
    (tmp_path / "page.md").write_text(
        "| promise | `tests/test_a.py::test_kept`, `::test_renamed` |\n"
        "`tests/test_a.py::test_kept[param]`, then `tests/test_moved.py::test_x`\n"
    )
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert missing_tests("page.md") == [
        "page.md:1: tests/test_a.py has no test_renamed",
        "page.md:2: tests/test_moved.py does not exist",
    ]
