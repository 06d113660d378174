"""N `billing serve` processes behind one port and M `billing worker` processes on one
PostgreSQL, and a killer that SIGKILLs a random server and a random worker every few
seconds and starts replacements, as crashing hosts and an OOM killer would.

The servers share the port as `billing serve --workers N` does (SO_REUSEPORT: the kernel
spreads new connections over the listening processes), but each is a process of its own,
so any one can die. All are forked from a server that has imported the service already
(`killer.FORKSERVER`): a replacement listens in a fraction of a second."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from billing.core.config import load_settings
from billing.http.app import server_options
from billing.runtime.server import serve_shared
from tests.faults.killer import FORKSERVER, run_worker, settle_in

PRELOAD = ["billing.runtime.cli", "billing.http.app", "tests.faults.killer", __name__]


def run_server(env: dict[str, str], workdir: str, log: str, port: int) -> None:
    """A forked process's life: one server process on the shared port."""
    settle_in(env, workdir, log)
    serve_shared("127.0.0.1", port, server_options(load_settings()))


@dataclass(frozen=True)
class Kill:
    """One SIGKILL: when (seconds into the run), which role, which process."""

    at: float
    role: str
    pid: int | None


@dataclass
class Group:
    """`size` processes of one role, each running `target(env, workdir, log, *args)`."""

    role: str
    target: Callable[..., None]
    args: tuple[Any, ...]
    size: int
    env: dict[str, str]
    workdir: Path
    processes: list[BaseProcess] = field(default_factory=list)
    started: int = 0

    def start(self) -> None:
        self.processes = [self._spawn() for _ in range(self.size)]

    def _spawn(self) -> BaseProcess:
        self.started += 1
        log = self.workdir / f"{self.role}-{self.started:03}.log"
        arguments = (self.env, str(self.workdir), str(log), *self.args)
        process = FORKSERVER.Process(target=self.target, args=arguments)
        process.start()
        return process

    def kill_one(self, rng: random.Random) -> int | None:
        """SIGKILL one at random and start its replacement; the victim's pid."""
        index = rng.randrange(len(self.processes))
        victim = self.processes[index]
        victim.kill()
        victim.join()
        self.processes[index] = self._spawn()
        return victim.pid

    def died_by_themselves(self) -> list[str]:
        return [
            f"{self.role} {process.pid} exited {process.exitcode}"
            for process in self.processes
            if not process.is_alive()
        ]

    def stop(self) -> list[int | None]:
        """SIGTERM all (each finishes what it has in hand); their exit codes."""
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.join(timeout=60)
        return [process.exitcode for process in self.processes]


class Fleet:
    """The servers and workers of one run, and the kills made to them."""

    def __init__(self, env: dict[str, str], workdir: Path, port: int, servers: int, workers: int):
        FORKSERVER.set_forkserver_preload(PRELOAD)  # before the forkserver starts
        self.port = port
        self.servers = Group("server", run_server, (port,), servers, env, workdir)
        self.workers = Group("worker", run_worker, (), workers, env, workdir)
        self.kills: list[Kill] = []
        self.began = time.monotonic()

    def __enter__(self) -> Fleet:
        self.servers.start()
        self.workers.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for process in [*self.servers.processes, *self.workers.processes]:
            with contextlib.suppress(ValueError):  # closed already
                process.kill()
                process.join()

    async def kill_until(self, stop: asyncio.Event, every: float, rng: random.Random) -> None:
        """Every `every` seconds (drawn from half to one and a half of it), SIGKILL a
        random server and a random worker and start their replacements."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), rng.uniform(every / 2, every * 1.5))
            if stop.is_set():
                return
            for group in (self.servers, self.workers):
                if group.size:
                    pid = group.kill_one(rng)
                    self.kills.append(Kill(time.monotonic() - self.began, group.role, pid))

    def stop(self) -> dict[str, list[int | None]]:
        return {"server": self.servers.stop(), "worker": self.workers.stop()}
