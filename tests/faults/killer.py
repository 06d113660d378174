"""Two `billing worker` processes and a killer that SIGKILLs one at random moments and
starts a replacement, as a crashing host or an OOM killer would.

Each worker is the `billing worker` command run in a process forked from a server that
has already imported the service (multiprocessing's forkserver): a replacement is up in
a fraction of a second instead of the seconds Python takes to import it all, so kills
can come every 0.2-1.5 s and still land while the workers work."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import random
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, TypeVar

from billing.runtime.cli import app
from tests.support.worker import WORKER_ARGS, wait_until, worker_env

PAUSE = (0.2, 1.5)  # seconds between kills, drawn at random
STARTUP_GRACE = 30.0  # seconds after which a silent worker counts as up anyway
# Handlers take a Stripe client before they look in the mirrors; none of these events
# needs a call, and one made anyway would fail at once (nothing listens there).
NO_STRIPE = {"STRIPE_SECRET_KEY": "sk_test_unused", "STRIPE_API_BASE": "http://127.0.0.1:9"}
FORKSERVER = multiprocessing.get_context("forkserver")
T = TypeVar("T")


def settle_in(env: dict[str, str], workdir: str, log: str) -> None:
    """A forked process's start: its output to `log`, `env` added, in `workdir`."""
    output = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.environ.update(env)
    os.chdir(workdir)


def run_worker(env: dict[str, str], workdir: str, log: str) -> None:
    """A forked process's life: `billing worker`, with its output in `log`."""
    settle_in(env, workdir, log)
    app([*WORKER_ARGS])


@dataclass
class Worker:
    process: BaseProcess
    log: Path
    started: float

    def up(self) -> bool:
        """Connected and working: its first log line (the start-up retention run) is out."""
        if not self.process.is_alive():
            log = self.log.read_text() if self.log.exists() else ""
            raise AssertionError(f"a worker exited by itself ({self.process.exitcode}):\n{log}")
        if self.log.exists() and self.log.stat().st_size > 0:
            return True
        return time.monotonic() - self.started > STARTUP_GRACE


class Workers:
    """`size` workers on `database_url`; `kill_until` keeps killing one and replacing it."""

    def __init__(self, database_url: str, workdir: Path, rng: random.Random, size: int = 2):
        FORKSERVER.set_forkserver_preload(["billing.runtime.cli", __name__])  # before it starts
        self.env = {**worker_env(database_url, workdir), **NO_STRIPE}
        self.workdir, self.rng = workdir, rng
        self.started = 0
        self.slots = [self._start() for _ in range(size)]
        self.kills, self.struck = 0, asyncio.Event()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self.slots:  # whatever still runs
            worker.process.kill()
            worker.process.join()

    def _start(self) -> Worker:
        self.started += 1
        log = self.workdir / f"worker-{self.started:03}.log"
        process = FORKSERVER.Process(
            target=run_worker, args=(self.env, str(self.workdir), str(log))
        )
        process.start()
        return Worker(process, log, time.monotonic())

    async def during(self, work: Coroutine[Any, Any, T]) -> T:
        """`work`'s result, the killer striking until it is done; a worker that dies by
        itself meanwhile fails the lot."""
        stop = asyncio.Event()
        killer, worker = asyncio.create_task(self.kill_until(stop)), asyncio.create_task(work)
        try:
            await asyncio.wait((killer, worker), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.set()
            worker.cancel()  # if the killer ended first: a worker died by itself
            await asyncio.gather(killer, worker, return_exceptions=True)
        killer.result()
        return worker.result()

    async def kill_until(self, stop: asyncio.Event) -> None:
        """Every 0.2-1.5 s, if every worker is up, SIGKILL one at random and start another
        (so kills land mid-work, and one worker always works while another starts)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.rng.uniform(*PAUSE))
            if stop.is_set() or not await self._all_up():
                continue
            victim = self.rng.randrange(len(self.slots))
            self.slots[victim].process.kill()
            self.slots[victim].process.join()
            self.kills += 1
            self.struck.set()
            self.slots[victim] = self._start()

    async def kills_reach(self, count: int) -> None:
        while self.kills < count:
            self.struck.clear()
            await self.struck.wait()

    async def stop(self) -> None:
        """SIGTERM the workers once they are up: each finishes its event in hand and
        exits cleanly."""
        await wait_until(self._all_up)
        for worker in self.slots:
            worker.process.terminate()
        for worker in self.slots:
            worker.process.join(timeout=30)
            assert worker.process.exitcode == 0, worker.log.read_text()

    async def _all_up(self) -> bool:
        return all([worker.up() for worker in self.slots])
