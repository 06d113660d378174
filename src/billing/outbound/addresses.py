"""Where an endpoint may send: the guard against server-side request forgery.

In production an endpoint is an `https` URL whose host resolves only to public
addresses: never loopback, private, carrier-grade NAT, link-local (where clouds serve
instance metadata, 169.254.169.254), unique-local (fd00:ec2::254), multicast or reserved
ones, nor an IPv4 address dressed as IPv6. It is checked when the endpoint is saved and
again before every send, because a name can resolve elsewhere by then. Development also
takes `http` and any address, so a receiver on this machine can be tried.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL_LENGTH = 2048


class Refused(ValueError):
    """An endpoint URL the service will not send to; the message says why."""


def _public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or address.teredo
        if embedded is not None:
            inner = embedded[1] if isinstance(embedded, tuple) else embedded
            return _public(inner)
    return address.is_global and not address.is_multicast


def parse(url: str, *, production: bool) -> tuple[str, int]:
    """The host and port an endpoint URL names, once its form is acceptable."""
    if len(url) > MAX_URL_LENGTH:
        raise Refused(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused(f"not a URL: {exc}") from exc
    allowed = ("https",) if production else ("https", "http")
    if parts.scheme not in allowed:
        raise Refused(f"the URL must start with {' or '.join(s + '://' for s in allowed)}")
    if parts.username is not None or parts.password is not None:
        raise Refused("the URL must not carry credentials")
    if not parts.hostname:
        raise Refused("the URL has no host")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def resolve(host: str, port: int) -> list[Address]:
    """Every address `host` resolves to now."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise Refused(f"{host} does not resolve") from exc
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in found))


async def check(url: str, *, production: bool) -> list[Address]:
    """The addresses `url` may be sent to now; Refused when none may, or any may not."""
    host, port = parse(url, production=production)
    addresses = await resolve(host, port)
    if production:
        blocked = [str(address) for address in addresses if not _public(address)]
        if blocked:
            raise Refused(f"{host} resolves to an address that is not public: {blocked[0]}")
    return addresses
