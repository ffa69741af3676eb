"""What each extra adds to a base install: megabytes on disk and packages, in fresh environments.

Builds modelmon's wheel once, then installs it into one fresh virtual environment per extra
(``pip install 'modelmon[EXTRA]'``, the base alone first) and measures each environment's
``site-packages``: bytes of its files and the distributions installed. The table printed says what
each extra adds over the base; the docs' install page quotes it.

    python -m bench.extras_size                       # every extra of pyproject.toml but the dev ones
    python -m bench.extras_size --extras service dask

Downloads come from the package index (pip's cache makes a second run fast); nothing is measured
in the environment that runs the command.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: extras for developing modelmon, not for using it
NOT_MEASURED = {"dev", "bench", "docs", "all"}


def extras() -> list[str]:
    """The user-facing extras of pyproject.toml, in its order."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    return [name for name in declared if name not in NOT_MEASURED]


def build_wheel(out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(ROOT)],
        check=True,
    )
    return next(out.glob("modelmon-*.whl"))


def _bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file() and not file.is_symlink())


def package_sizes(site: Path) -> dict[str, int]:
    """Bytes of each top-level entry of a ``site-packages`` (a package and its ``.libs`` folder of
    bundled libraries together)."""
    sizes: dict[str, int] = {}
    for entry in site.iterdir():
        if entry.name.endswith((".dist-info", ".pth")) or entry.name.startswith(("_", ".")):
            continue
        name = entry.name.removesuffix(".libs").removesuffix(".py").replace("scikit_learn", "sklearn")
        sizes[name] = sizes.get(name, 0) + _bytes(entry)
    return sizes


def largest(sizes: dict[str, int], count: int, leaving_out: dict[str, int] | None = None) -> str:
    """The ``count`` largest packages of ``sizes`` not in ``leaving_out``, as text."""
    shown = sorted(
        (item for item in sizes.items() if item[0] not in (leaving_out or {})), key=lambda i: -i[1]
    )
    return ", ".join(f"{package} {size / 2**20:,.0f} MiB" for package, size in shown[:count])


def measure(wheel: Path, extra: str | None, folder: Path) -> tuple[int, int, dict[str, int]]:
    """(bytes of site-packages, distributions installed, bytes of each package) of a fresh
    environment with ``extra``."""
    venv = folder / f"venv-{extra or 'base'}"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    requirement = f"{wheel}[{extra}]" if extra else str(wheel)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", requirement],
        check=True,
    )
    site = next((venv / "lib").glob("python3*/site-packages"))
    return _bytes(site), len(list(site.glob("*.dist-info"))), package_sizes(site)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--extras", nargs="+", default=None, help="extras to measure (default: all user ones)"
    )
    args = parser.parse_args(argv)
    names = args.extras or extras()
    with tempfile.TemporaryDirectory(prefix="modelmon-extras-") as tmp:
        folder = Path(tmp)
        wheel = build_wheel(folder / "wheel")
        base_size, base_count, base_packages = measure(wheel, None, folder)
        added_by: dict[str, str] = {}
        print("| install | size on disk | packages | adds over the base |")
        print("|---|---|---|---|")
        print(f"| `pip install modelmon` | {base_size / 2**20:,.0f} MiB | {base_count} | - |", flush=True)
        for name in names:
            size, count, packages = measure(wheel, name, folder)
            added_by[name] = largest(packages, 3, leaving_out=base_packages)
            added = f"+{(size - base_size) / 2**20:,.0f} MiB, +{count - base_count} packages"
            print(
                f"| `pip install 'modelmon[{name}]'` | {size / 2**20:,.0f} MiB | {count} | {added} |",
                flush=True,
            )
        print(f"\nLargest in the base install: {largest(base_packages, 6)}.")
        for name, shown in added_by.items():
            print(f"Largest added by {name}: {shown}.")


if __name__ == "__main__":
    main()
