"""A throwaway PostgreSQL cluster (Debian's postgresql-common tools) that a test may
stop, crash and restart: the machine's shared cluster is used by others and is never
touched."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.server import free_port

PG_CONFIG_ROOT = Path("/etc/postgresql")
TOOLS = ("pg_createcluster", "pg_ctlcluster", "pg_dropcluster")
PREFIX = "billing_faults_"  # then the creating process's id


def pg_version() -> str | None:
    """The newest PostgreSQL installed, as postgresql-common names it (`15`)."""
    if not PG_CONFIG_ROOT.is_dir():
        return None
    versions = [path.name for path in PG_CONFIG_ROOT.iterdir() if path.name.isdigit()]
    return max(versions, key=int, default=None)


def missing_tools() -> str | None:
    """Why a throwaway cluster cannot be made here, or None if it can."""
    absent = [tool for tool in TOOLS if shutil.which(tool) is None]
    if absent:
        return f"PostgreSQL cluster tools not installed: {', '.join(absent)}"
    if pg_version() is None:
        return f"no PostgreSQL version under {PG_CONFIG_ROOT}"
    return None


def _run(*command: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stdout}{result.stderr}")


@dataclass(frozen=True)
class Cluster:
    version: str
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, action: str, *options: str) -> None:
        """`pg_ctlcluster <action>` run directly, never redirected to systemd."""
        _run(
            "pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, action, *options
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _drop_orphans(version: str) -> None:
    """Clusters of test processes killed outright, whose own cleanup never ran."""
    for path in (PG_CONFIG_ROOT / version).glob(f"{PREFIX}*"):
        pid = path.name.removeprefix(PREFIX).split("_")[0]
        if pid.isdigit() and not _alive(int(pid)):
            _run("pg_dropcluster", "--stop", version, path.name)


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """A new, started cluster on a free port, trusting local connections; dropped after."""
    version = pg_version()
    assert version is not None
    _drop_orphans(version)
    cluster = Cluster(version, f"{PREFIX}{os.getpid()}_{uuid.uuid4().hex[:6]}", free_port())
    # Its files are thrown away after the test, so initdb need not sync them to disk.
    _run(
        "pg_createcluster", version, cluster.name, "--port", str(cluster.port),
        "--", "--auth=trust", "--no-sync",
    )  # fmt: skip
    try:
        cluster.ctl("start")
        yield cluster
    finally:
        with contextlib.suppress(RuntimeError):  # no shutdown checkpoint: nothing to keep
            cluster.ctl("stop", "-m", "immediate")
        _run("pg_dropcluster", "--stop", version, cluster.name)
