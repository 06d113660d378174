"""One request to one endpoint: signed, sent to the address just checked, timed.

The URL's host is resolved and checked (`addresses.check`) right before the request,
and the request goes to that very address (the host kept for `Host` and TLS), so a
name that resolves elsewhere a moment later cannot steer it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from billing.outbound import addresses, signatures

TIMEOUT_SECONDS = 10.0
RESPONSE_KEPT = 1024  # bytes of each answer logged with its attempt
USER_AGENT = "billing-webhooks/1"
CONNECTIONS = 32  # the requests the dispatcher has in flight at once, at most


@dataclass(frozen=True, slots=True)
class Message:
    message_id: str  # `webhook-id`
    body: bytes


@dataclass(frozen=True, slots=True)
class Answer:
    """What one attempt got: a status and the answer's start, or an error."""

    duration_ms: int
    status_code: int | None = None
    response: str | None = None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _pinned(url: str, address: addresses.Address) -> tuple[str, str]:
    """`url` aimed at `address`, and the `Host` header it had."""
    parts = urlsplit(url)
    ip = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{ip}:{parts.port}" if parts.port else ip
    host = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
    return urlunsplit(parts._replace(netloc=netloc)), host


async def send(
    client: httpx.AsyncClient,
    url: str,
    secrets: list[str],
    message: Message,
    *,
    production: bool,
) -> Answer:
    started = time.monotonic()

    def took() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        checked = await addresses.check(url, production=production)
    except addresses.Refused as refused:
        return Answer(took(), error=f"refused: {refused}")
    target, host = _pinned(url, checked[0])
    headers = {
        **signatures.headers(secrets, message.message_id, int(time.time()), message.body),
        "content-type": "application/json",
        "host": host,
        "user-agent": USER_AGENT,
    }
    try:
        response = await client.post(
            target,
            content=message.body,
            headers=headers,
            extensions={"sni_hostname": urlsplit(url).hostname or ""},
        )
    except httpx.TimeoutException:
        return Answer(took(), error=f"no answer within {client.timeout.read} s")
    except httpx.HTTPError as exc:
        return Answer(took(), error=f"{type(exc).__name__}: {exc}"[:500])
    text = response.content[:RESPONSE_KEPT].decode("utf-8", errors="replace")
    return Answer(took(), status_code=response.status_code, response=text)


def client() -> httpx.AsyncClient:
    """One per process: connections to an endpoint are reused from send to send, as many
    kept open as the dispatcher sends at once (fewer would be closed and opened again
    all the time). Redirects are not followed (a 3xx is an answer, and the next hop
    would go unchecked)."""
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    return httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False, limits=limits)
