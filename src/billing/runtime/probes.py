"""`billing worker --probe-port N`: `/healthz` and `/readyz` for an orchestrator's probes.

The worker serves no HTTP otherwise. This server runs on the worker's own event loop, so
an answer to `/healthz` also says the loop is turning; it answers 503 once the worker task
has ended. `/readyz` asks what `billing serve`'s does: the database answers at the
latest migration (and, behind PgBouncer, with the service's settings). Requests are read
up to their blank line and answered with `Connection: close`; nothing else is served.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress

import orjson

MAX_REQUEST_BYTES = 8192
READ_TIMEOUT = 5.0
Check = Callable[[], Awaitable[str | None]]  # why not, or None when well


async def start(port: int, host: str, healthy: Check, ready: Check) -> asyncio.Server:
    checks = {"/healthz": healthy, "/readyz": ready}

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            method, path = _request_line(head)
            check = checks.get(path) if method in ("GET", "HEAD") else None
            status, body = await _respond(check)
            writer.write(_response(status, body, with_body=method != "HEAD"))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # a client that sends no complete request gets no answer
        finally:
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()

    return await asyncio.start_server(answer, host, port, limit=MAX_REQUEST_BYTES)


def _request_line(head: bytes) -> tuple[str, str]:
    parts = head.split(b"\r\n", 1)[0].split(b" ")
    if len(parts) != 3:
        return "", ""
    return parts[0].decode("latin-1"), parts[1].decode("latin-1").split("?", 1)[0]


async def _respond(check: Check | None) -> tuple[int, dict[str, str]]:
    if check is None:
        return 404, {"status": "not found"}
    problem = await check()
    if problem is None:
        return 200, {"status": "ok"}
    return 503, {"status": "unavailable", "detail": problem}


def _response(status: int, body: dict[str, str], with_body: bool) -> bytes:
    content = orjson.dumps(body)
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(content)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + (content if with_body else b"")
