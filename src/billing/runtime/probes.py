"""`billing worker --probe-port N`: `/healthz`, `/readyz` and `/metrics` for an
orchestrator and Prometheus.

The worker serves no HTTP otherwise. This server runs on the worker's own event loop, so
an answer to `/healthz` also says the loop is turning. Requests are read up to their
blank line (at most 8 KiB, 5 s) and answered with `Connection: close`; GET and HEAD only.
A route that asks the database shares one answer a second (`shared`), so probes sent
in a flood cost one query a second, not the worker's connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass

import orjson

MAX_REQUEST_BYTES = 8192
READ_TIMEOUT = 5.0
REASONS = {200: "OK", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}
REASONS |= {503: "Service Unavailable"}


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"

    @classmethod
    def json(cls, code: int, **fields: str) -> Answer:
        return cls(code, orjson.dumps(fields))

    @classmethod
    def verdict(cls, problem: str | None) -> Answer:
        """200 when there is no problem, else 503 saying what it is."""
        if problem is None:
            return cls.json(200, status="ok")
        return cls.json(503, status="unavailable", detail=problem)


# A route: the request's headers (lowercased names) to its answer.
Route = Callable[[Mapping[str, str]], Awaitable[Answer]]
NOT_FOUND = Answer.json(404, status="not found")


async def start(port: int, host: str, routes: Mapping[str, Route]) -> asyncio.Server:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            method, path, headers = _parse(head)
            route = routes.get(path) if method in ("GET", "HEAD") else None
            found = await route(headers) if route is not None else NOT_FOUND
            writer.write(_response(found, with_body=method != "HEAD"))
            async with asyncio.timeout(READ_TIMEOUT):
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # a client that sends no complete request, or reads no answer, gets none
        except ConnectionError:
            pass  # the client went away
        finally:
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()

    return await asyncio.start_server(answer, host, port, limit=MAX_REQUEST_BYTES)


def shared(route: Route, seconds: float = 1.0) -> Route:
    """`route`, its answer computed at most once per `seconds` and shared meanwhile."""
    last: list[tuple[float, asyncio.Task[Answer]]] = []

    async def answer(headers: Mapping[str, str]) -> Answer:
        now = asyncio.get_running_loop().time()
        if not last or now - last[0][0] >= seconds:
            last[:] = [(now, asyncio.ensure_future(route(headers)))]
        return await asyncio.shield(last[0][1])

    return answer


def _parse(head: bytes) -> tuple[str, str, dict[str, str]]:
    first, *lines = head.decode("latin-1").split("\r\n")
    parts = first.split(" ")
    if len(parts) != 3:
        return "", "", {}
    headers = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return parts[0], parts[1].split("?", 1)[0], headers


def _response(answer: Answer, with_body: bool) -> bytes:
    head = (
        f"HTTP/1.1 {answer.status} {REASONS.get(answer.status, 'Error')}\r\n"
        f"Content-Type: {answer.content_type}\r\nContent-Length: {len(answer.body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + (answer.body if with_body else b"")
