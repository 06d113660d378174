"""Debian's PgBouncer in transaction pooling in front of the test PostgreSQL, started on a
free port for the run (`make test` installs the package).

Its server pool is smaller than the service's pool of client connections, so that
transactions of one client connection really do land on different server connections.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from billing.core.config import Settings
from tests.support.sandbox import wait_for
from tests.support.sandbox_process import free_port

SERVER_POOL_SIZE = 8
# What docs/operations.md asks operators to set: each server connection's settings.
CONNECT_QUERY = "SET synchronous_commit = on; SET jit = off"


def connect_query(threshold: int) -> str:
    """`CONNECT_QUERY` for a service whose BILLING_LOW_BALANCE_THRESHOLD is `threshold`."""
    return f"{CONNECT_QUERY}; SET billing.low_balance_threshold = {threshold}"


MISSING = (
    "TEST_POSTGRES_URL is set but Debian's pgbouncer is not installed (`make test` installs it:"
    " apt-get install pgbouncer)"
)


@dataclass(frozen=True)
class Bouncer:
    port: int
    log: Path
    upstream: tuple[str, int]  # the PostgreSQL server's host and port

    def url_for(self, postgres_url: str) -> str:
        """The same database and user, through PgBouncer."""
        url = make_url(postgres_url).set(host="127.0.0.1", port=self.port)
        return url.render_as_string(hide_password=False)


RUNNING: list[Bouncer] = []  # this process's, for `fronts`


def fronts(url: str) -> bool:
    """Whether `url` goes through a PgBouncer this process started."""
    port = make_url(url).port
    return any(bouncer.port == port for bouncer in RUNNING)


def direct(url: str) -> str:
    """`url` without this process's PgBouncer in between: a PgBouncer in front of another
    would run its `connect_query` on the other's server connections, which keep it."""
    parsed = make_url(url)
    for bouncer in RUNNING:
        if bouncer.port == parsed.port:
            host, port = bouncer.upstream
            return parsed.set(host=host, port=port).render_as_string(hide_password=False)
    return url


def settings_for(url: str, **values: Any) -> Settings:
    """Development settings on `url`, told when a PgBouncer of this process fronts it."""
    return Settings(
        _env_file=None,
        BILLING_ENV="development",
        DATABASE_URL=url,
        DATABASE_PGBOUNCER=fronts(url),
        **values,
    )


def binary() -> str:
    found = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not os.access(found, os.X_OK):
        raise RuntimeError(MISSING)
    return found


@contextmanager
def running(
    postgres_url: str, connect_query: str = CONNECT_QUERY, pool_size: int = SERVER_POOL_SIZE
) -> Iterator[Bouncer]:
    """PgBouncer in front of `postgres_url`'s server while the context lasts."""
    upstream = make_url(direct(postgres_url))
    directory = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    directory.chmod(0o777)  # PgBouncer refuses to run as root: it runs as `postgres` then
    port = free_port()
    config = directory / "pgbouncer.ini"
    host, upstream_port = upstream.host or "127.0.0.1", upstream.port or 5432
    config.write_text(_config(host, upstream_port, port, directory, connect_query, pool_size))
    (directory / "users.txt").write_text(f'"{upstream.username or "postgres"}" ""\n')
    for path in directory.iterdir():
        path.chmod(0o644)
    bouncer = Bouncer(port, directory / "pgbouncer.log", (host, upstream_port))
    process = subprocess.Popen(_command(config), stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: process.poll() is not None or _listening(port), timeout=10)
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited: {_tail(bouncer.log)}")
        RUNNING.append(bouncer)
        yield bouncer
    finally:
        if bouncer in RUNNING:
            RUNNING.remove(bouncer)
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


def _command(config: Path) -> list[str]:
    as_user = ["-u", "postgres"] if os.geteuid() == 0 else []
    return [binary(), *as_user, str(config)]


def _config(
    host: str, upstream_port: int, port: int, directory: Path, connect_query: str, pool_size: int
) -> str:
    return f"""[databases]
* = host={host} port={upstream_port} connect_query='{connect_query}'

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {directory / "users.txt"}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 2000
logfile = {directory / "pgbouncer.log"}
"""


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _tail(log: Path) -> str:
    return log.read_text()[-2000:] if log.exists() else "(no log)"
