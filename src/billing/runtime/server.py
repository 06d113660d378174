"""`billing serve`: the HTTP server's processes.

One process is uvicorn as it comes. With several, each worker process listens on a
socket of its own, bound to the one address with SO_REUSEPORT, and the kernel spreads
new connections evenly across them. uvicorn's own supervisor shares one listening
socket, and whichever process wakes first accepts every connection waiting: one process
did most of the work while the other idled (bench/webhooks.py, docs/performance.md; a
proxy's keep-alive pool opens its connections the same way). A
worker process that dies is replaced; SIGTERM or SIGINT stops them all, each finishing
the requests in hand.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import threading
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

import structlog
import uvicorn

from billing.http.app import DRAIN_SECONDS

APP = "billing.http.app:create_app"
BACKLOG = 2048  # uvicorn's default
CHECK_SECONDS = 0.5  # how often the supervisor looks for a dead worker process
# A worker process still running this long after SIGTERM is killed: its requests in
# flight had `DRAIN_SECONDS`, and its in-process worker the rest to finish its batch.
STOP_SECONDS = DRAIN_SECONDS + 10.0

logger = structlog.get_logger(__name__)


def serve(host: str, port: int, workers: int, options: dict[str, Any]) -> None:
    """Serve the app on `host`:`port` with `workers` processes until stopped."""
    if workers == 1:
        uvicorn.run(APP, factory=True, host=host, port=port, **options)
    else:
        Supervisor(host, port, workers, options).run()


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening socket that shares `host`:`port` with the other worker processes'."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return sock


def serve_shared(host: str, port: int, options: dict[str, Any]) -> None:
    """One worker process: uvicorn on a socket of its own, listening once the app is
    loaded. The kernel hands a listening socket its share of new connections at once:
    ones it took during seconds of imports would wait all that time."""
    config = uvicorn.Config(APP, factory=True, host=host, port=port, **options)
    config.load()
    uvicorn.Server(config).run(sockets=[listening_socket(host, port)])


class Supervisor:
    """Starts the worker processes, replaces one that dies, stops them on a signal."""

    def __init__(self, host: str, port: int, workers: int, options: dict[str, Any]) -> None:
        self.args = (host, port, options)
        self.workers = workers
        self.stopping = threading.Event()
        self.context = multiprocessing.get_context("spawn")

    def run(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop)
        processes = [self._start() for _ in range(self.workers)]
        while not self.stopping.wait(CHECK_SECONDS):
            for index, process in enumerate(processes):
                if not process.is_alive():
                    logger.warning("server_process_died", pid=process.pid, code=process.exitcode)
                    processes[index] = self._start()
        for process in processes:
            process.terminate()  # SIGTERM: uvicorn finishes the requests in hand
        for process in processes:
            process.join(STOP_SECONDS)
            if process.is_alive():
                process.kill()

    def _start(self) -> BaseProcess:
        process = self.context.Process(target=serve_shared, args=self.args)
        process.start()
        return process

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping.set()
