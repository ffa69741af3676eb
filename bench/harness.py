"""Running each tool as its own process and reading its wall time and peak memory.

Each measured command runs in a fresh process so that its peak resident memory belongs to that tool
alone; its last stdout line is a JSON object of its own figures.

The peak is the process's ``VmHWM`` (high-water resident set of its address space, which starts
afresh at ``exec``), read from ``/proc`` every 10 ms while it runs. ``ru_maxrss`` from ``wait4`` is
not used: Linux carries the spawning process's high-water mark over ``exec`` into the child's
``ru_maxrss``, so a child of a benchmark that had just written a large dataset would report the
parent's memory.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EVIDENTLY_VENV = ROOT / "bench" / ".venv-evidently"
EVIDENTLY_REQUIREMENTS = ["evidently==0.7.*", "pandas<3", "pyarrow"]
NANNYML_VENV = ROOT / "bench" / ".venv-nannyml"
NANNYML_REQUIREMENTS = ["nannyml==0.13.*", "pandas<3", "statsmodels", "pyarrow"]


@dataclass
class Measurement:
    """Wall seconds, peak resident memory in MiB, the tool's own JSON output, and its CPU seconds
    (user + system of the process and any it waited for; on a loaded machine they move far less
    than wall time)."""

    seconds: float
    peak_mib: float
    output: dict[str, Any]
    cpu_seconds: float = 0.0


def _high_water_kib(pid: int) -> int:
    """The process's peak resident memory so far (0 once it has exited)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def measure(
    command: list[str],
    env: dict[str, str] | None = None,
    output_file: Path | None = None,
    timeout: float | None = None,
) -> Measurement:
    """Run ``command`` to completion; its output is the JSON in ``output_file``, else its last stdout line.

    Peak memory is the command's own high-water mark (so run the tool itself, not a wrapper such as
    ``timeout``); after ``timeout`` seconds it is killed and :class:`TimeoutError` raised."""
    # each tool runs as installed, its bytecode cached: an editable install caches it on its first
    # run, which a shell that sets PYTHONDONTWRITEBYTECODE would forbid (compiling on every run)
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    started = time.perf_counter()
    # the children's CPU time grows by this one's alone: measure runs one command at a time
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env={**environment, **(env or {})}
    )
    peak = [0]
    finished = threading.Event()

    def watch() -> None:
        while not finished.wait(0.01):
            peak[0] = max(peak[0], _high_water_kib(process.pid))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        finished.set()
        raise TimeoutError(f"{' '.join(command)} did not finish in {timeout:.0f} s") from None
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    finished.set()
    watcher.join()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{stderr.decode()[-3000:]}")
    if output_file is not None:
        return Measurement(seconds, peak[0] / 1024, json.loads(output_file.read_text()), cpu)
    lines = [line for line in stdout.decode().splitlines() if line.strip()]
    return Measurement(seconds, peak[0] / 1024, json.loads(lines[-1]), cpu)


def python() -> str:
    """This environment's interpreter (modelmon's)."""
    return sys.executable


def evidently_python() -> str:
    """Evidently 0.7's interpreter, in its own environment (it breaks on pandas 3); created on first use."""
    interpreter = EVIDENTLY_VENV / "bin" / "python"
    if not interpreter.exists():
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
        subprocess.run(
            [str(interpreter), "-m", "pip", "install", "--quiet", *EVIDENTLY_REQUIREMENTS], check=True
        )
    return str(interpreter)


def nannyml_python(create: bool = True) -> str | None:
    """NannyML 0.13's interpreter, in its own environment (it needs pandas < 3); created on first use
    unless ``create`` is false (then ``None`` when it does not exist)."""
    interpreter = NANNYML_VENV / "bin" / "python"
    if not interpreter.exists():
        if not create:
            return None
        subprocess.run([sys.executable, "-m", "venv", str(NANNYML_VENV)], check=True)
        subprocess.run(
            [str(interpreter), "-m", "pip", "install", "--quiet", *NANNYML_REQUIREMENTS],
            check=True,
            env={**os.environ, "NML_DISABLE_USAGE_LOGGING": "1"},
        )
    return str(interpreter)
