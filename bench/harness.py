"""Running each tool as its own process and reading its wall time and peak memory.

Each measured command runs in a fresh process so that peak resident memory (``ru_maxrss`` from
``wait4``) belongs to that tool alone; its last stdout line is a JSON object of its own figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EVIDENTLY_VENV = ROOT / "bench" / ".venv-evidently"
EVIDENTLY_REQUIREMENTS = ["evidently==0.7.*", "pandas<3", "pyarrow"]


@dataclass
class Measurement:
    """Wall seconds, peak resident memory in MiB, and the tool's own JSON output."""

    seconds: float
    peak_mib: float
    output: dict[str, Any]


def measure(command: list[str], env: dict[str, str] | None = None) -> Measurement:
    """Run ``command`` to completion; its last stdout line must be JSON."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env={**os.environ, **(env or {})}
    )
    assert process.stdout is not None and process.stderr is not None
    with process.stdout, process.stderr:
        stdout = process.stdout.read()
        stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{stderr.decode()[-3000:]}")
    lines = [line for line in stdout.decode().splitlines() if line.strip()]
    return Measurement(seconds, usage.ru_maxrss / 1024, json.loads(lines[-1]))


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
