"""Size of the images the repository's Dockerfile makes, at two commits side by side, under podman.

    .venv/bin/python -m bench.container_images                   # HEAD's targets beside the Dockerfile
                                                                  # of before the two-image split
    .venv/bin/python -m bench.container_images OLD NEW --no-cache # also build seconds, from nothing

Each commit's tree is exported (``git archive``) and each target of its Dockerfile built with
``podman build --format docker`` (as root, podman set up by ``.ci/container-deps``, the base image
made by ``make test-containers`` when no registry answers). Prints one line per image: its size, the
build's seconds, and the largest installed packages of its virtualenv.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STATE = Path(os.environ.get("MODELMON_CONTAINERS_DIR", "/var/tmp/modelmon-containers"))
#: the last commit whose Dockerfile made one image of every extra (1.23 GB)
BEFORE = "2cb639a"


def _podman(*arguments: str, timeout: float = 3600) -> str:
    environment = {
        **os.environ,
        "CONTAINERS_CONF": str(STATE / "containers.conf"),
        "CONTAINERS_STORAGE_CONF": str(STATE / "storage.conf"),
    }
    result = subprocess.run(
        ["podman", *arguments], capture_output=True, text=True, timeout=timeout, env=environment
    )
    if result.returncode != 0:
        raise SystemExit(
            f"podman {' '.join(arguments[:3])} failed:\n{(result.stdout + result.stderr)[-3000:]}"
        )
    return result.stdout


def _targets(dockerfile: str) -> list[str | None]:
    """Named final stages a user builds: ``service`` and ``batch`` when present, else the default."""
    stages = re.findall(r"^FROM\s+\S+(?:\s+AS\s+(\S+))?", dockerfile, re.MULTILINE | re.IGNORECASE)
    chosen = [stage for stage in ("service", "batch") if stage in stages]
    return list(chosen) or [None]


def _largest_packages(tag: str, count: int = 8) -> str:
    site = "/opt/modelmon/lib/python3.11/site-packages"
    listing = _podman(
        "run", "--rm", "--entrypoint", "du", tag, "-sm", *[f"{site}/{name}" for name in _names(tag)]
    )
    sizes = sorted(
        ((int(size), Path(path).name) for size, path in (line.split() for line in listing.splitlines())),
        reverse=True,
    )
    return ", ".join(f"{name} {size}" for size, name in sizes[:count])


def _names(tag: str) -> list[str]:
    site = "/opt/modelmon/lib/python3.11/site-packages"
    return _podman("run", "--rm", "--entrypoint", "ls", tag, site).split()


def measure(commit: str, no_cache: bool) -> list[dict[str, object]]:
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", commit], capture_output=True, check=True
    ).stdout
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-images-") as folder:
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        for target in _targets((Path(folder) / "Dockerfile").read_text()):
            tag = f"localhost/modelmon-bench:{commit[:12]}-{target or 'default'}"
            options = ["--no-cache"] if no_cache else []
            options += ["--target", target] if target else []
            started = time.monotonic()
            _podman("build", "--pull=never", "--format", "docker", *options, "--tag", tag, folder)
            seconds = time.monotonic() - started
            size = int(_podman("image", "inspect", "--format", "{{.Size}}", tag).strip())
            rows.append(
                {"commit": commit, "target": target or "(default)", "size_mb": round(size / 1e6),
                 "build_seconds": round(seconds), "largest_packages_mb": _largest_packages(tag)}
            )  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("commits", nargs="*", default=[BEFORE, "HEAD"], help="commits to build, in order")
    parser.add_argument("--no-cache", action="store_true", help="build every layer again (build seconds)")
    arguments = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"load average at start: {load:.1f}")
    for commit in arguments.commits:
        measure(
            subprocess.run(
                ["git", "-C", str(REPO), "rev-parse", commit], capture_output=True, text=True, check=True
            ).stdout.strip(),
            arguments.no_cache,
        )


if __name__ == "__main__":
    main()
