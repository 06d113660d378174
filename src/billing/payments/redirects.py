"""Where Stripe may send a customer back to: only hosts the operator allowed.

An open redirect on a payment page is a phishing tool, so success, cancel and
portal return URLs must be http(s) on an allowed host (the service's own host
when none are configured). URLs a browser could read differently from Python
(backslashes, credentials, whitespace) are refused outright.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from billing.payments.errors import RedirectNotAllowed

SCHEMES = frozenset({"http", "https"})


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


def check_redirect(url: str, allowed: frozenset[str], own_host: str | None, name: str) -> str:
    """`url` if Stripe may redirect there, else 422 `redirect_not_allowed` naming the field."""
    hosts = allowed or frozenset({own_host.lower()} if own_host else ())
    host = _host(url)
    if host is None or host.lower() not in hosts:
        raise RedirectNotAllowed(
            f"{name} must be an http(s) URL on an allowed host (BILLING_ALLOWED_REDIRECT_HOSTS)."
        )
    return url
