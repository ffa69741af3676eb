"""The compose stack in real containers, under rootful podman, for the container check.

``make test-containers`` installs podman and podman-compose (``.ci/container-deps``), then runs
``tests/deploy/test_deploy_containers.py``, which uses this module to:

- make the base images locally (debootstrap of Debian bookworm, imported and tagged with the names the
  Dockerfiles use) when no registry answers a pull;
- build the repository's ``Dockerfile`` unchanged, and Prometheus, Alertmanager and PostgreSQL images
  from Debian's packages (``tests/deploy/containers/``), tagged with the names the compose file uses;
- start ``deploy/docker-compose.yml`` + ``docker-compose.postgres.yml`` + the check's override with
  podman-compose, one phase at a time, each container waited for until its health check passes.

Everything is bounded in time; a failure names the container and ends with its last log lines. The
facts behind the choices (runc, ulimits, ``--format docker``, health checks run by hand) are measured
on this machine kind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from prometheus_harness import DEPLOY, REPO

#: podman's configuration and storage, podman-compose's venv and the base image's files
#: (``.ci/container-deps``)
STATE = Path(os.environ.get("MODELMON_CONTAINERS_DIR", "/var/tmp/modelmon-containers"))
IMAGES = Path(__file__).parent / "containers"
PROJECT = "modelmon-check"
#: the Dockerfile's two images, by their targets
MODELMON_IMAGES = {"service": "localhost/modelmon:check", "batch": "localhost/modelmon-batch:check"}
#: the base images the Dockerfiles name, as podman resolves their short names
BASES = ("docker.io/library/python:3.11-slim", "docker.io/library/debian:bookworm-slim")
#: images built from Debian's packages, under the names deploy/docker-compose.yml uses
LOCAL_IMAGES = {
    "prometheus": "docker.io/prom/prometheus:v2.53.0",
    "alertmanager": "docker.io/prom/alertmanager:v0.27.0",
    "postgres": "docker.io/library/postgres:15",
}
COMPOSE_FILES = (
    DEPLOY / "docker-compose.yml",
    DEPLOY / "docker-compose.postgres.yml",
    IMAGES / "compose.check.yml",
)


class ContainerError(AssertionError):
    """A container step failed; the message ends with what the container (or command) printed."""


def podman_environment() -> dict[str, str]:
    """podman's settings and storage root of the check (``.ci/container-deps`` writes them)."""
    return {
        **os.environ,
        "CONTAINERS_CONF": str(STATE / "containers.conf"),
        "CONTAINERS_STORAGE_CONF": str(STATE / "storage.conf"),
    }


def run(command: list[str], timeout: float, env: Mapping[str, str] | None = None) -> str:
    """Run ``command`` (bounded by ``timeout`` seconds); its output, or ContainerError with its end."""
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env or podman_environment()
        )
    except subprocess.TimeoutExpired as exc:
        raise ContainerError(f"{' '.join(command[:4])} ... took over {timeout:g}s") from exc
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-4000:]
        raise ContainerError(f"{' '.join(command[:6])} ... exited {result.returncode}:\n{output}")
    return result.stdout


def podman(*arguments: str, timeout: float = 120) -> str:
    return run(["podman", *arguments], timeout)


def start_failure(image: str | None = None, environment: Mapping[str, str] | None = None) -> str | None:
    """Why podman cannot run here, or None: ``podman info``, then (given ``image``) a container of it
    started and ended (the runtime, namespaces and cgroups a kernel may lack)."""
    probes = [["podman", "info", "--format", "{{.Host.OCIRuntime.Name}}"]]
    if image is not None:
        probes.append(["podman", "run", "--rm", "--pull=never", "--network", "none", image, "true"])
    for command in probes:
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=120,
                env=environment or podman_environment(),
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return f"{' '.join(command[:3])} took over 120s"
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()[-1500:]
            return f"{' '.join(command[:3])} exited {result.returncode}: {output}"
    return None


def image_exists(name: str) -> bool:
    return subprocess.run(["podman", "image", "exists", name], env=podman_environment()).returncode == 0


def _apt_mirror() -> str:
    """The Debian mirror apt on this machine uses (debootstrap fetches from it too)."""
    for path in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        if path.suffix not in (".list", ".sources") or not path.is_file():
            continue
        found = re.search(
            r"(?:^URIs:\s*|^deb\s+(?:\[[^\]]*\]\s+)?)(http\S+/debian)/?\s", path.read_text(), re.M
        )
        if found:
            return found.group(1)
    return "http://deb.debian.org/debian"


def ensure_base_images(echo: Any = print) -> None:
    """Pull the base images, or make them from Debian's packages when no registry answers."""
    missing = [name for name in BASES if not image_exists(name)]
    if not missing:
        return
    try:
        for name in missing:
            podman("pull", "--quiet", name, timeout=120)
        return
    except ContainerError as exc:
        echo(f"no registry reachable ({str(exc).splitlines()[-1][:200]}): making the base image locally")
    rootfs = STATE / "rootfs"
    started = time.monotonic()
    if not (rootfs / "usr/bin/python3").exists():
        shutil.rmtree(rootfs, ignore_errors=True)
        packages = "python3,python3-venv,python-is-python3,ca-certificates"
        run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={packages}",
                "bookworm",
                str(rootfs),
                _apt_mirror(),
            ],
            timeout=900,
        )
    # pip inside a build reaches PyPI through this machine's TLS proxy, if it has one
    for certificate in Path("/usr/local/share/ca-certificates").glob("*.crt"):
        shutil.copy(certificate, rootfs / "usr/local/share/ca-certificates" / certificate.name)
    run(["chroot", str(rootfs), "update-ca-certificates"], timeout=120)
    _slim(rootfs)
    archive = STATE / "rootfs.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(rootfs, arcname=".")
    podman("import", str(archive), BASES[0], timeout=300)
    for name in BASES[1:]:
        podman("tag", BASES[0], name)
    archive.unlink()
    echo(f"base image made from Debian bookworm in {time.monotonic() - started:.0f}s")


#: what a slim Debian image leaves out, now and in the packages installed later (as Debian's own do)
_SLIM_EXCLUDES = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*")


def _slim(rootfs: Path) -> None:
    """Drop apt's package lists and caches, documentation and translations from ``rootfs``."""
    for pattern in ("var/lib/apt/lists/*", "var/cache/apt/*.bin", "var/cache/apt/archives/*.deb"):
        for item in rootfs.glob(pattern):
            if item.is_file():
                item.unlink()
    for pattern in _SLIM_EXCLUDES:
        for item in rootfs.glob(pattern.lstrip("/")):
            shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()
    rules = [f"path-exclude={pattern}" for pattern in _SLIM_EXCLUDES]
    (rootfs / "etc/dpkg/dpkg.cfg.d/slim").write_text("\n".join(rules) + "\n")


def build(
    tag: str, containerfile: Path, context: Path, target: str | None = None, timeout: float = 1500
) -> float:
    """``podman build`` of ``containerfile`` (docker format: the OCI one drops HEALTHCHECK); seconds."""
    started = time.monotonic()
    chosen = ["--target", target] if target else []
    podman(
        "build", "--pull=never", "--format", "docker", "--tag", tag, *chosen, "--file", str(containerfile),
        str(context), timeout=timeout,
    )  # fmt: skip
    return time.monotonic() - started


def image_bytes(tag: str) -> int:
    return int(podman("image", "inspect", "--format", "{{.Size}}", tag).strip())


class Stack:
    """The compose project ``modelmon-check``: up by phases, health, logs, signals, and down."""

    def __init__(self, folder: Path, environment: Mapping[str, str]) -> None:
        self.folder = folder
        self.environment = {**podman_environment(), **environment, "CHECK_DIR": str(folder)}
        self.compose_binary = str(STATE / "compose-venv" / "bin" / "podman-compose")

    def compose(self, *arguments: str, timeout: float = 300) -> str:
        files = [part for file in COMPOSE_FILES for part in ("-f", str(file))]
        command = [self.compose_binary, "--project-name", PROJECT, *files, "--profile", "postgres"]
        return run([*command, "--profile", "traffic", *arguments], timeout, self.environment)

    def up(self, *services: str) -> None:
        self.compose("up", "--detach", *services)

    def down(self) -> None:
        """Containers, volumes and networks of the project go (a network made before the DNS plugin
        was installed would keep the containers from finding each other by name)."""
        self.compose("down", "--volumes", "--timeout", "5", timeout=300)
        networks = podman(
            "network", "ls", "--quiet", "--filter", f"label=io.podman.compose.project={PROJECT}"
        )
        if networks.split():
            podman("network", "rm", "--force", *networks.split())

    def containers(self) -> dict[str, dict[str, Any]]:
        """The project's containers by compose service name (``podman ps --all``)."""
        listing = json.loads(
            podman(
                "ps", "--all", "--format", "json", "--filter", f"label=io.podman.compose.project={PROJECT}"
            )
        )
        return {entry["Labels"]["com.docker.compose.service"]: entry for entry in listing}

    def name(self, service: str) -> str:
        found = self.containers().get(service)
        if found is None:
            raise ContainerError(f"no container of the service {service!r} in the project {PROJECT}")
        return str(found["Names"][0])

    def tail(self, service: str, lines: int = 40) -> str:
        """The last log lines of ``service``'s container, to end a failure's message."""
        try:
            name = self.name(service)
        except ContainerError as exc:
            return str(exc)
        logs = subprocess.run(
            ["podman", "logs", "--tail", str(lines), name],
            capture_output=True, text=True, timeout=30, env=podman_environment(),
        )  # fmt: skip
        return f"--- last {lines} log lines of {name} ---\n{logs.stdout}{logs.stderr}"

    def inspect(self, service: str) -> dict[str, Any]:
        return dict(json.loads(podman("inspect", self.name(service)))[0])

    def healthy(self, service: str) -> bool:
        """Run the container's health check once (no timer runs them here); True when it passes."""
        name = self.name(service)
        result = subprocess.run(
            ["podman", "healthcheck", "run", name],
            capture_output=True, text=True, timeout=60, env=podman_environment(),
        )  # fmt: skip
        return result.returncode == 0

    def wait_healthy(self, services: Iterable[str], timeout: float = 300) -> float:
        """Wait until each service's health check passes; seconds taken. A container that exits or
        stays unhealthy past ``timeout`` fails with its log."""
        started = time.monotonic()
        deadline = started + timeout
        waiting = list(services)
        while waiting:
            for service in list(waiting):
                state = self.inspect(service)["State"]
                if not state["Running"] and state.get("Restarting") is not True:
                    raise ContainerError(
                        f"{service} stopped (exit {state['ExitCode']})\n{self.tail(service)}"
                    )
                if self.healthy(service):
                    waiting.remove(service)
            if waiting and time.monotonic() > deadline:
                raise ContainerError(
                    f"not healthy after {timeout:g}s: {waiting}\n" + "\n".join(map(self.tail, waiting))
                )
            if waiting:
                time.sleep(1)
        return time.monotonic() - started

    def wait_exited(self, service: str, timeout: float = 300) -> None:
        """Wait for a one-shot service to end; it must end with status 0."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.inspect(service)["State"]
            if not state["Running"] and state["Status"] in ("exited", "stopped"):
                if state["ExitCode"] != 0:
                    raise ContainerError(f"{service} exited {state['ExitCode']}\n{self.tail(service)}")
                return
            if time.monotonic() > deadline:
                raise ContainerError(f"{service} still running after {timeout:g}s\n{self.tail(service)}")
            time.sleep(1)

    def exec(self, service: str, *command: str, timeout: float = 300) -> str:
        return podman("exec", self.name(service), *command, timeout=timeout)


def http(
    url: str, token: str | None = None, body: Any = None, timeout: float = 10
) -> tuple[int, dict[str, str], bytes]:
    """GET (or POST ``body`` as JSON) ``url``; status, headers and body, 4xx and 5xx included."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def prometheus_query(base: str, expr: str) -> list[dict[str, Any]]:
    """Samples of an instant query on the Prometheus at ``base``; ValueError naming a bad query."""
    status, _, text = http(f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
    answer = json.loads(text)
    if status != 200 or answer.get("status") != "success":
        raise ValueError(f"{expr}: {answer.get('errorType')}: {answer.get('error')}")
    return list(answer["data"]["result"])


def wait_until(check: Any, timeout: float, interval: float = 1.0) -> Any:
    """Call ``check()`` until it returns something true or ``timeout`` passes; its last answer."""
    deadline = time.monotonic() + timeout
    answer = check()
    while not answer and time.monotonic() < deadline:
        time.sleep(interval)
        answer = check()
    return answer


__all__ = [
    "BASES",
    "LOCAL_IMAGES",
    "MODELMON_IMAGES",
    "REPO",
    "ContainerError",
    "Stack",
    "build",
    "ensure_base_images",
    "http",
    "image_bytes",
    "image_exists",
    "podman",
    "podman_environment",
    "prometheus_query",
    "start_failure",
    "wait_until",
]
