"""A throwaway PostgreSQL cluster on a free loopback port, owned by the test run (or the benchmark).

``initdb`` + ``pg_ctl start`` in a temporary folder: password authentication (scram-sha-256) over
TCP on 127.0.0.1 only, no Unix socket, ``fsync`` off (nothing here must survive a power cut). The
binaries come from ``PATH`` or Debian's ``/usr/lib/postgresql/<version>/bin``. PostgreSQL refuses
to run as root, so under root the cluster runs as the ``postgres`` user (created by Debian's
package), or as a system user ``modelmon-pg`` created for it when there is none.

A uniquely named module (like ``integration_support``), so that every test folder imports the same one.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from integration_support import free_port

__all__ = ["Cluster", "PostgresNotInstalled", "find_binary", "start_cluster"]

#: user, database and Debian package of the throwaway cluster
USER = "modelmon"
DATABASE = "modelmon_test"
PACKAGE = "postgresql"
FALLBACK_OS_USER = "modelmon-pg"


class PostgresNotInstalled(RuntimeError):
    """The PostgreSQL server binaries are not on this machine; the message says what to install."""


def _system_tool(name: str) -> str:
    """A tool from util-linux or passwd that may live in an sbin folder not on PATH."""
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/sbin/{name}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(f"`{name}` is needed to run PostgreSQL as an unprivileged user, and is missing")


def _version(folder: str) -> tuple[int, ...]:
    found = re.search(r"/postgresql/([\d.]+)/bin", folder)
    return tuple(int(part) for part in found.group(1).split(".")) if found else (0,)


def find_binary(name: str) -> str | None:
    """``name`` (initdb, pg_ctl, ...) from PATH, else from the newest Debian PostgreSQL folder."""
    on_path = shutil.which(name)
    if on_path:
        return on_path
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True):
        candidate = os.path.join(folder, name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _os_user() -> str | None:
    """The unprivileged user the cluster runs as when we are root (``None``: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", FALLBACK_OS_USER):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(
        [
            _system_tool("useradd"),
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            FALLBACK_OS_USER,
        ],
        check=True,
        capture_output=True,
    )
    return FALLBACK_OS_USER


@dataclass
class Cluster:
    """A running cluster: ``url`` reaches its database ``modelmon_test`` as the user ``modelmon``."""

    bin_dir: Path
    folder: Path
    port: int
    password: str
    os_user: str | None

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def run(self, *command: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL program as the cluster's owner; a failure raises with its output."""
        argv = [str(self.bin_dir / command[0]), *command[1:]]
        if self.os_user is not None:
            argv = [_system_tool("runuser"), "-u", self.os_user, "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}): {result.stdout}{result.stderr}\n{log}"
            )
        return result

    def start(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def restart(self) -> None:
        """A real restart: every connection is cut, the server comes back on the same port."""
        self.run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", "fast", "-w", "-t", "60", "restart"
        )  # fmt: skip

    def stop(self) -> None:
        """Stop the server and delete its folder."""
        try:
            if (self.data / "postmaster.pid").exists():
                self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def _configure(cluster: Cluster) -> None:
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(cluster.port),
        "unix_socket_directories": "''",
        "fsync": "off",
        "full_page_writes": "off",
        "shared_buffers": "64MB",
        "max_connections": "60",
    }
    with open(cluster.data / "postgresql.conf", "a") as conf:
        conf.write("\n# throwaway test cluster\n")
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())


def start_cluster(attempts: int = 3) -> Cluster:
    """Create, start and return a new cluster with an empty database ``modelmon_test``.

    Raises :class:`PostgresNotInstalled` naming the Debian package when ``initdb`` is not installed,
    and ``RuntimeError`` with the server's log when the cluster does not come up.
    """
    initdb = find_binary("initdb")
    if initdb is None:
        raise PostgresNotInstalled(f"PostgreSQL's initdb is not installed (apt-get install {PACKAGE})")
    os_user = _os_user()
    folder = Path(tempfile.mkdtemp(prefix="modelmon-pg-"))
    cluster = Cluster(Path(initdb).resolve().parent, folder, free_port(), secrets.token_hex(12), os_user)
    try:
        (folder / "password").write_text(cluster.password)
        if os_user is not None:
            entry = pwd.getpwnam(os_user)
            os.chown(folder, entry.pw_uid, entry.pw_gid)
            os.chown(folder / "password", entry.pw_uid, entry.pw_gid)
        os.chmod(folder / "password", 0o600)
        cluster.run(
            "initdb", "-D", str(cluster.data), "-U", USER, f"--pwfile={folder / 'password'}",
            "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        _configure(cluster)
        for attempt in range(attempts):
            try:
                cluster.start()
                break
            except RuntimeError:
                # the free port was taken between choosing it and binding it: choose another
                if attempt == attempts - 1:
                    raise
                cluster.port = free_port()
                _configure(cluster)
        _create_database(cluster)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _create_database(cluster: Cluster) -> None:
    import psycopg

    with psycopg.connect(cluster.url("postgres"), autocommit=True, connect_timeout=10) as connection:
        connection.execute(f"CREATE DATABASE {DATABASE}")
