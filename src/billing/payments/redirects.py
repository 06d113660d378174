"""Where Stripe may send a customer back to: only hosts the operator allowed.

An open redirect on a payment page is a phishing tool, so success, cancel and
portal return URLs must be http(s) on a host in `BILLING_ALLOWED_REDIRECT_HOSTS`
(production refuses to start without it). Unset, in development, the request's own
host stands in, but only a loopback one: the Host header is the client's to choose,
so trusting any other name would let a caller allow whatever host it likes. URLs a
browser could read differently from Python (backslashes, credentials, whitespace)
are refused outright.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from billing.payments.errors import RedirectNotAllowed

SCHEMES = frozenset({"http", "https"})
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _host(url: str) -> str | None:
    """The URL's host if it is a plain http(s) URL; None for anything ambiguous."""
    if "\\" in url or any(ch.isspace() or not ch.isprintable() for ch in url):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in SCHEMES or parts.username is not None:
        return None
    return parts.hostname or None


def _loopback(host: str | None) -> str | None:
    """`host` if it names this machine (`localhost`, `*.localhost`, 127.0.0.1, ::1)."""
    host = (host or "").lower()
    return host if host in LOOPBACK_HOSTS or host.endswith(".localhost") else None


def check_redirect(url: str, allowed: frozenset[str], own_host: str | None, name: str) -> str:
    """`url` if Stripe may redirect there, else 422 `redirect_not_allowed` naming the field.
    With no allowed hosts configured, only the request's own host, if a loopback one."""
    own = _loopback(own_host)
    hosts = allowed or frozenset({own} if own else ())
    host = _host(url)
    if host is None or host.lower() not in hosts:
        raise RedirectNotAllowed(
            f"{name} must be an http(s) URL on an allowed host (BILLING_ALLOWED_REDIRECT_HOSTS)."
        )
    return url
