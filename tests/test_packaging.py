"""The package builds with the lowest build backend it declares and installs without extras.

The sdist is built from the repository and the wheel from the unpacked sdist (so the sdist holds
everything a build needs), both with exactly the lowest setuptools of ``build-system.requires``;
the wheel then goes into a fresh virtual environment with no extra, where the command and a
report work and a part that needs an extra says which one.
"""

from __future__ import annotations

import email
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

import modelmon
from integration_support import need

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def lowest_setuptools() -> str:
    (requirement,) = [r for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools")]
    match = re.fullmatch(r"setuptools>=([\d.]+)", requirement)
    assert match, f"build-system.requires should give setuptools a lowest version, got {requirement!r}"
    return match.group(1)


def venv(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=300)
    return folder / "bin" / "python"


def pip_install(python: Path, *requirements: str) -> None:
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    need(
        done.returncode == 0 or "No matching distribution" not in done.stderr,
        f"the package index is out of reach: {done.stderr[-500:]}",
    )
    assert done.returncode == 0, done.stderr[-3000:]


def backend(python: Path, hook: str, source: Path, out: Path) -> Path:
    """Run a PEP 517 hook of setuptools.build_meta in ``source``; the file it wrote."""
    script = f"import setuptools.build_meta as b; print(b.{hook}({str(out)!r}))"
    done = subprocess.run(
        [str(python), "-c", script], cwd=source, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{hook} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return out / done.stdout.strip().splitlines()[-1]


def test_lowest_declared_backend_builds_and_the_wheel_installs_without_extras(tmp_path):
    version = lowest_setuptools()
    builder = venv(tmp_path / "build-venv")
    pip_install(builder, f"setuptools=={version}")
    dist = tmp_path / "dist"
    dist.mkdir()
    sdist = backend(builder, "build_sdist", ROOT, dist)
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
        archive.extractall(tmp_path / "unpacked", filter="data")
    top = f"modelmon-{modelmon.__version__}"
    assert f"{top}/LICENSE" in names and f"{top}/pyproject.toml" in names
    assert any("/modelmon/service/static/" in name for name in names), "the sdist lacks the dashboard files"
    wheel = backend(builder, "build_wheel", tmp_path / "unpacked" / top, dist)

    with zipfile.ZipFile(wheel) as archive:
        metadata = email.message_from_bytes(archive.read(f"{top}.dist-info/METADATA"))
        files = archive.namelist()
    assert metadata["Version"] == modelmon.__version__
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Requires-Python"] == ">=3.11"
    assert "LICENSE" in (metadata.get_all("License-File") or [])
    assert any(url.startswith("Changelog, ") for url in metadata.get_all("Project-URL") or [])
    assert "Programming Language :: Python :: 3.11" in (metadata.get_all("Classifier") or [])
    assert "modelmon/py.typed" in files and any(name.startswith("modelmon/service/static/") for name in files)

    user = venv(tmp_path / "user-venv")
    pip_install(user, str(wheel))
    installed = subprocess.run(
        [str(user), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, check=True
    ).stdout.lower()
    for extra_only in ("prometheus-client", "starlette", "prefect", "shap", "dask", "pymongo", "psycopg"):
        assert f"{extra_only}==" not in installed, f"{extra_only} came with the base install"
    command = user.parent / "modelmon"
    shown = subprocess.run([str(command), "--version"], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and modelmon.__version__ in shown.stdout
    report = (
        "import numpy as np, pandas as pd, modelmon\n"
        "rng = np.random.default_rng(0)\n"
        "reference = pd.DataFrame({'x': rng.normal(size=2000), 'c': rng.choice(list('ab'), 2000)})\n"
        "current = pd.DataFrame({'x': rng.normal(2, 1, 2000), 'c': rng.choice(list('ab'), 2000)})\n"
        "schema = modelmon.Schema(numerical=['x'], categorical=['c'])\n"
        "report = modelmon.build_report(reference, current, schema)\n"
        "print(report.sections['drift']['columns']['x']['detected'])\n"
    )
    drifted = subprocess.run([str(user), "-c", report], capture_output=True, text=True, timeout=600)
    assert drifted.returncode == 0 and drifted.stdout.strip() == "True", drifted.stderr[-3000:]
    (tmp_path / "modelmon.yml").write_text("store: sqlite:///modelmon.db\nmodels: {}\n")
    serve = subprocess.run(
        [str(command), "serve", "--config", "modelmon.yml", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert serve.returncode == 2, serve.stdout + serve.stderr
    assert "modelmon[service]" in serve.stderr and "Traceback" not in serve.stderr
