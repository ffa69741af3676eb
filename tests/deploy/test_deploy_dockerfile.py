"""The Dockerfile, read without a Docker engine: small base, non-root, healthcheck, what it copies exists."""

from __future__ import annotations

import re
import tomllib

from prometheus_harness import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()
# Join continuation lines so each instruction is one line.
INSTRUCTIONS = [
    line.strip() for line in DOCKERFILE.replace("\\\n", " ").splitlines() if line.strip()[:1].isalpha()
]


def instructions(keyword: str) -> list[str]:
    return [line[len(keyword) :].strip() for line in INSTRUCTIONS if line.split()[0] == keyword]


def test_every_stage_starts_from_the_slim_python_of_the_package() -> None:
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11"
    stages = {line.split()[-1]: line.split()[0] for line in instructions("FROM")}
    bases = {base for base in stages.values() if base not in stages}
    assert bases == {"python:3.11-slim"}
    assert list(stages)[-1] == "service", "a plain `docker build` makes the services' image"
    assert {"batch", "service"} <= set(stages)


def test_the_image_runs_as_an_unprivileged_user() -> None:
    users = instructions("USER")
    assert users and users[-1] not in {"root", "0"}
    assert f"--uid 10001 --gid modelmon --home-dir /var/lib/modelmon --create-home {users[-1]}" in DOCKERFILE


def test_the_healthcheck_asks_the_monitoring_service_with_the_standard_library() -> None:
    (check,) = instructions("HEALTHCHECK")
    assert "http://127.0.0.1:8085/health" in check
    code = re.search(r'"-c", "(.*)"\]', check)
    assert code is not None
    compile(code.group(1), "HEALTHCHECK", "exec")
    assert re.findall(r"import (\w+)", code.group(1)) == ["urllib"]


def test_it_installs_the_extras_the_services_need_and_they_exist() -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    installed = [set(found.split(",")) for found in re.findall(r'"\.\[([a-z,]+)\]"', DOCKERFILE)]
    assert installed == [{"service", "demo", "mongo", "postgres"}, {"batch", "explain"}]
    assert set().union(*installed) <= set(extras)


def test_what_it_copies_exists_and_the_dockerignore_lets_it_in() -> None:
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [line for line in ignore if line and not line.startswith("#")]
    assert patterns[0] == "*", "the context should start from nothing and let in only what is copied"
    for copy in instructions("COPY"):
        if copy.startswith("--from"):
            continue
        for source in copy.split()[:-1]:
            assert (REPO / source).exists(), f"COPY {source}: not in the repository"
            assert f"!{source.rstrip('/')}" in {line.rstrip("/") for line in ignore}, (
                f".dockerignore drops {source}"
            )


def test_ports_and_entrypoint() -> None:
    assert instructions("EXPOSE") == ["8085 9696"]
    assert instructions("ENTRYPOINT") == ['["modelmon"]']


def test_the_batch_image_serves_the_prefect_ui_it_copied_at_build_time_with_telemetry_off() -> None:
    """The server copies its UI into its own package folder at start unless it is already where
    PREFECT_UI_STATIC_DIRECTORY says, which a read-only root refuses (the UI then answered 404); the
    container check asks the running UI (test_deploy_containers.py)."""
    batch = DOCKERFILE[DOCKERFILE.index("FROM runtime AS batch") :].split("\nFROM ")[0]
    environment = dict(re.findall(r"(PREFECT_[A-Z_]+)=(\S+)", batch))
    assert environment["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert environment["PREFECT_HOME"].startswith("/tmp/")  # the tmpfs: the root is read-only
    copied = re.search(r"PREFECT_UI_STATIC_DIRECTORY=(\S+)[^\n]*\n[^\n]*create_ui_app", DOCKERFILE)
    assert copied and copied.group(1) == environment["PREFECT_UI_STATIC_DIRECTORY"]
