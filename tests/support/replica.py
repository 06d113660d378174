"""A PostgreSQL primary and its streaming replica, made for the test on free ports from
Debian's PostgreSQL binaries: `initdb`, then `pg_basebackup -R` of it, each started with
`pg_ctl`. The machine's own server is left alone (its pg_hba.conf allows no replication).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.sandbox_process import free_port

BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
MISSING = "Debian's PostgreSQL server binaries (initdb, pg_basebackup) are not installed"
# A test cluster need not survive a crash of the machine.
FAST = ("-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=on")


@dataclass(frozen=True)
class Cluster:
    directory: Path
    port: int

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, database: str, sql: str) -> str:
        command = ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        command += ["-d", database, "-Atqc", sql]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def available() -> bool:
    return bool(BINARIES) and (BINARIES[-1] / "pg_basebackup").exists()


@contextmanager
def primary_and_replica() -> Iterator[tuple[Cluster, Cluster]]:
    """A primary with one streaming replica while the context lasts."""
    base = Path(tempfile.mkdtemp(prefix="replication-"))
    try:
        _own(base)
        primary = Cluster(base / "primary", free_port())
        _run("initdb", "-D", str(primary.directory), "-U", "postgres", "--auth=trust", "-N")
        with ExitStack() as stack:
            stack.enter_context(_started(primary, base))
            replica = Cluster(base / "replica", free_port())
            _run(
                "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
                "-D", str(replica.directory), "-R", "-X", "stream", "-c", "fast",
            )  # fmt: skip
            stack.enter_context(_started(replica, base))
            yield primary, replica
    finally:
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def _started(cluster: Cluster, sockets: Path) -> Iterator[None]:
    options = ["-p", str(cluster.port), "-k", str(sockets), "-c", "listen_addresses=127.0.0.1"]
    log = str(cluster.directory.with_suffix(".log"))
    _run(
        "pg_ctl",
        "-D",
        str(cluster.directory),
        "-l",
        log,
        "-w",
        "-o",
        " ".join([*options, *FAST]),
        "start",
    )
    try:
        yield
    finally:
        _run("pg_ctl", "-D", str(cluster.directory), "-m", "immediate", "-w", "stop")


def _run(program: str, *args: str) -> None:
    """A PostgreSQL binary, as `postgres` when this runs as root (they refuse root)."""
    command = [str(BINARIES[-1] / program), *args]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{program} failed: {done.stderr[-2000:]}")


def _own(directory: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
