"""The command's own process tuning: applied by the ``modelmon`` script, never by the library."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from integration_support import need
from modelmon.cli import process
from modelmon.cli.process import FOOTER_BYTES, warm

linux_only = pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="no posix_fadvise on this system")
glibc_only = pytest.mark.skipif(
    __import__("platform").libc_ver()[0] != "glibc", reason="the heap pad is glibc's (mallopt)"
)


def _recorded(monkeypatch):
    calls = []
    monkeypatch.setattr(
        os, "posix_fadvise", lambda fd, offset, length, advice: calls.append((offset, length))
    )
    return calls


def test_a_small_file_is_asked_for_whole(tmp_path, monkeypatch):
    path = tmp_path / "small.parquet"
    path.write_bytes(b"x" * 1000)
    calls = _recorded(monkeypatch)
    assert warm(path, head_bytes=1 << 20)
    assert calls == [(0, 0)]


def test_a_large_file_is_asked_for_its_head_and_footer_only(tmp_path, monkeypatch):
    path = tmp_path / "large.parquet"
    size = 64 * FOOTER_BYTES
    with path.open("wb") as file:  # sparse: no disk spent on it
        file.truncate(size)
    calls = _recorded(monkeypatch)
    assert warm(path, head_bytes=4 * FOOTER_BYTES)
    assert calls == [(0, 4 * FOOTER_BYTES), (size - FOOTER_BYTES, FOOTER_BYTES)]


def test_a_missing_file_is_left_to_the_reader(tmp_path, monkeypatch):
    calls = _recorded(monkeypatch)
    assert warm(tmp_path / "absent.parquet", head_bytes=1 << 20) is False
    assert calls == []


def test_without_the_advice_nothing_is_asked(tmp_path, monkeypatch):
    path = tmp_path / "rows.csv"
    path.write_text("a\n1\n")
    monkeypatch.delattr(os, "posix_fadvise", raising=False)
    assert warm(path, head_bytes=1 << 20) is False


@linux_only
def test_the_kernel_takes_the_advice_for_a_file_and_refuses_it_for_a_pipe(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("a\n1\n")
    assert warm(path, head_bytes=1 << 20) is True
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    writer = subprocess.Popen(["sh", "-c", f"sleep 1 > {pipe}"])  # lets the read-only open return
    try:
        assert warm(pipe, head_bytes=1 << 20) is False
    finally:
        writer.wait()


@pytest.fixture
def files(tmp_path):
    reference, current = tmp_path / "reference.parquet", tmp_path / "current.parquet"
    pd.DataFrame({"x": [1.0, 2.0, 3.0] * 20}).to_parquet(reference)
    pd.DataFrame({"x": [1.5, 2.5, 3.5] * 20}).to_parquet(current)
    return reference, current


def test_report_asks_for_both_files_before_pandas_is_imported(files):
    """The point of the advice: the disk reads while the heavy imports run, not after them."""
    script = textwrap.dedent(
        """
        import os, sys
        os.posix_fadvise = lambda fd, offset, length, advice: print("ASKED", "pandas" in sys.modules)
        from modelmon.cli import main
        sys.argv = ["modelmon", *sys.argv[1:]]
        main()
        """
    )
    command = [sys.executable, "-c", script, "report", *map(str, files), "--sections", "drift"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("ASKED False") == 2 and "ASKED True" not in result.stdout


def test_reuse_freed_memory_switches_pyarrow_to_the_system_allocator_unless_told_otherwise(monkeypatch):
    import pyarrow as pa

    before = pa.default_memory_pool()
    try:
        monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", before.backend_name)
        pa.set_memory_pool(pa.mimalloc_memory_pool() if before.backend_name != "mimalloc" else before)
        chosen = pa.default_memory_pool().backend_name
        process.reuse_freed_memory()
        assert pa.default_memory_pool().backend_name == chosen  # the user's choice wins
        monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL")
        process.reuse_freed_memory()
        assert pa.default_memory_pool().backend_name == "system"
    finally:
        pa.set_memory_pool(before)


_TEMPORARIES = """
import resource, sys
import numpy as np
from modelmon.engine.cells import EdgeLookup
if sys.argv[1] == "reuse":
    from modelmon.cli.process import reuse_freed_memory
    reuse_freed_memory()
values = np.random.default_rng(0).normal(size=1 << 16)
lookup = EdgeLookup(np.quantile(values, np.linspace(0, 1, 1001)))
lookup.cells(values)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):
    lookup.cells(values)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@glibc_only
def test_reuse_freed_memory_keeps_a_lookups_temporaries_instead_of_faulting_them_back_in():
    env = {key: value for key, value in os.environ.items() if not key.startswith("MALLOC_")}

    def faults(mode: str) -> int:
        command = [sys.executable, "-c", _TEMPORARIES, mode]
        return int(subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout)

    # each lookup of 65,536 values makes three temporaries of 512 KiB: by default glibc returns
    # them to the system and faults them back in (128 pages each) on every one of the 200 calls
    assert faults("default") > 200 * 128
    assert faults("reuse") < 2_000


#: what a library must leave as it found it (``state``), and the tuning calls it must never make
#: (``touched``); the script prints "exit hooks ran" when the interpreter ends the usual way
_WATCH = """
import atexit, ctypes, gc, json, logging, os, signal, sys, threading, warnings
import numpy as np
import pyarrow as pa

touched = []
os.posix_fadvise = lambda *arguments: touched.append("posix_fadvise")
os._exit = lambda code: touched.append("os._exit")


class WatchedLibrary(ctypes.CDLL):  # threadpoolctl loads C libraries too: only mallopt counts
    def __getattr__(self, name):
        if name == "mallopt":
            touched.append("mallopt")
        return super().__getattr__(name)


ctypes.CDLL = WatchedLibrary
atexit.register(lambda: print("exit hooks ran", flush=True))


def state():
    return {
        "arrow memory pool": pa.default_memory_pool().backend_name,
        "environment": dict(os.environ),
        "working directory": os.getcwd(),
        "signal handlers": {int(s): repr(signal.getsignal(s)) for s in signal.valid_signals()},
        "numpy errors": np.geterr(),
        "warning filters": repr(warnings.filters),
        "root logger": (logging.root.level, len(logging.root.handlers)),
        "loggers": {
            name: (logger.level, len(logger.handlers), logger.propagate, logger.disabled)
            for name, logger in logging.root.manager.loggerDict.items()
            if isinstance(logger, logging.Logger)
        },
        "garbage collector": (gc.isenabled(), gc.get_threshold()),
        "switch interval": sys.getswitchinterval(),
        "recursion limit": sys.getrecursionlimit(),
        "hooks": (repr(sys.excepthook), repr(threading.excepthook)),
        "foreground threads": sum(not t.daemon for t in threading.enumerate()),
    }


def changed(before, after):
    # a logger made by getLogger(__name__) is new, not a change; the loggers before keep their settings
    after = {**after, "loggers": {name: after["loggers"].get(name) for name in before["loggers"]}}
    return sorted(key for key in before if before[key] != after[key])
"""

_LIBRARY_USER = (
    _WATCH
    + """
# modelmon's dependencies first: what they set on import (numpy's and scipy's warning filters,
# scikit-learn's OpenMP variables) is theirs; what changes after this point is modelmon's
import click.testing, pandas, scipy.stats, sklearn.ensemble, sklearn.metrics  # noqa: E401, F401

before = state()
import modelmon
from click.testing import CliRunner
from modelmon.cli.report import report
from modelmon.engine.build import build_report
from modelmon.reading.files import read_frames
from modelmon.schema import Schema

reference, current, folder = sys.argv[1:4]
schema = Schema(numerical=["x", "y"], prediction="y", target="t", task="regression")
built = build_report(reference, current, schema)
built.save_html(os.path.join(folder, "report.html"))
sum(len(chunk) for chunk in read_frames(current, chunk_rows=7))
command = CliRunner().invoke(report, [reference, current, "--json", os.path.join(folder, "r.json")])
assert command.exit_code == 0, command.output
after = state()
print(json.dumps({"changed": changed(before, after), "touched": touched}), flush=True)
"""
)


def test_using_the_library_leaves_the_process_as_it_was(tmp_path):
    """Importing modelmon, building a report, reading files and even running ``modelmon report``
    in-process (as a click application embedding it would) tunes nothing of the process: no heap
    pad, no allocator switch, no page-cache advice, and the process ends the usual way."""
    import numpy as np

    rng = np.random.default_rng(0)
    paths = []
    for name, shift in (("reference", 0.0), ("current", 0.5)):
        x = rng.normal(shift, 1, 500)
        y = 2 * x + rng.normal(0, 0.1, 500)
        path = tmp_path / f"{name}.parquet"
        pd.DataFrame({"x": x, "y": y, "t": y + rng.normal(0, 0.3, 500)}).to_parquet(path)
        paths.append(str(path))
    command = [sys.executable, "-c", _LIBRARY_USER, *paths, str(tmp_path)]
    env = {key: value for key, value in os.environ.items() if key != "ARROW_DEFAULT_MEMORY_POOL"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    import json

    assert json.loads(lines[-2]) == {"changed": [], "touched": []}
    assert lines[-1] == "exit hooks ran"  # the interpreter was torn down as usual


_EVERY_MODULE = (
    _WATCH
    + """
import ast, importlib, importlib.util, pkgutil
from pathlib import Path

source = Path(importlib.util.find_spec("modelmon").submodule_search_locations[0])


def imported_when_imported(tree):
    # (module, name) pairs a file imports as it is imported: not in functions, not for type checkers
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or (
            isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        ):
            continue
        if isinstance(node, ast.Import):
            yield from ((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield from ((node.module, alias.name) for alias in node.names)
        yield from imported_when_imported(node)


# modelmon's dependencies first, each name as modelmon imports it (``from prefect import flow``
# loads Prefect's flows, which sets up Prefect's logging): what they set on import is theirs
dependencies = {
    pair
    for path in source.rglob("*.py")
    for pair in imported_when_imported(ast.parse(path.read_text()))
    if pair[0].partition(".")[0] != "modelmon"
}
for name, attribute in sorted(dependencies, key=str):
    try:
        module = importlib.import_module(name)
        if attribute is not None and not hasattr(module, attribute):
            importlib.import_module(f"{name}.{attribute}")
    except ImportError:
        pass  # an extra that is not installed: the modules that need it say so below

before = state()
imported, missing = [], []
for found in pkgutil.walk_packages([str(source)], "modelmon."):
    if found.name == "modelmon.__main__":  # runs the command
        continue
    try:
        importlib.import_module(found.name)
        imported.append(found.name)
    except sys.modules["modelmon.errors"].MissingDependencyError:
        missing.append(found.name)
after = state()
result = {"changed": changed(before, after), "touched": touched, "imported": imported, "missing": missing}
print(json.dumps(result), flush=True)
"""
)


def test_importing_every_module_of_the_library_leaves_the_process_as_it_was():
    """Every module of ``src/modelmon`` (the service, the flows, the stores, the command's own
    modules, the process module itself) imported one after another changes nothing of the process
    and calls none of the command's tuning: that is left to the ``modelmon`` script."""
    import json

    import modelmon

    env = {key: value for key, value in os.environ.items() if key != "ARROW_DEFAULT_MEMORY_POOL"}
    command = [sys.executable, "-c", _EVERY_MODULE]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    found = json.loads(lines[-2])
    assert found["changed"] == [] and found["touched"] == []
    assert lines[-1] == "exit hooks ran"
    source = Path(modelmon.__file__).parent
    modules = {
        ".".join(("modelmon", *path.relative_to(source).with_suffix("").parts)).removesuffix(".__init__")
        for path in source.rglob("*.py")
    } - {"modelmon", "modelmon.__main__"}
    assert sorted(found["imported"] + found["missing"]) == sorted(modules)
    need(
        not found["missing"], f"extras not installed, so these modules were not imported: {found['missing']}"
    )


def test_the_command_ends_at_once_only_in_its_own_process(monkeypatch):
    monkeypatch.setattr(process, "_DONE", True)
    monkeypatch.setattr(process, "_OWNED", False)
    process.end(SystemExit(0))  # returns: a process the command does not own is not ended
    monkeypatch.setattr(process, "_OWNED", True)
    process.end(SystemExit(2))  # returns: a failed command ends the usual way
