"""Which URLs Stripe may send a customer back to (the rule itself, no I/O)."""

from __future__ import annotations

import pytest

from billing.payments.errors import RedirectNotAllowed
from billing.payments.redirects import check_redirect

ALLOWED = frozenset({"app.example.com", "billing.test"})


@pytest.mark.parametrize(
    "url",
    [
        "https://app.example.com/done?session={CHECKOUT_SESSION_ID}",
        "http://billing.test/cancel",
        "HTTPS://APP.EXAMPLE.COM/x",
        "https://app.example.com:8443/x#frag",
    ],
)
def test_allowed_hosts_pass(url: str) -> None:
    assert check_redirect(url, ALLOWED, "ignored.host", "success_url") == url


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.net/",
        "https://app.example.com.evil.net/",
        "https://evil.net/app.example.com",
        "https://app.example.com@evil.net/",
        "https://user:pw@app.example.com/",
        "https://evil.net\\@app.example.com/",
        "https://evil.net\\app.example.com/",
        "javascript://app.example.com/%0aalert(1)",
        "data:text/html,<script>",
        "ftp://app.example.com/",
        "//app.example.com/",
        "/relative/path",
        "https://app.example.com /x",
        "https://app.example.com\t/x",
        "https://app.example.com:99999/",
        "https://[::1/",
        "",
    ],
)
def test_everything_else_is_refused(url: str) -> None:
    with pytest.raises(RedirectNotAllowed) as caught:
        check_redirect(url, ALLOWED, "app.example.com", "cancel_url")
    assert caught.value.code == "redirect_not_allowed"
    assert "cancel_url" in caught.value.detail


@pytest.mark.parametrize(
    ("own_host", "url"),
    [
        ("localhost", "http://LocalHost:8000/ok"),
        ("127.0.0.1", "http://127.0.0.1:8000/ok"),
        ("::1", "http://[::1]:8000/ok"),
        ("shop.localhost", "https://shop.localhost/ok"),
    ],
)
def test_with_no_configured_hosts_a_loopback_own_host_passes(own_host: str, url: str) -> None:
    assert check_redirect(url, frozenset(), own_host, "return_url") == url
    with pytest.raises(RedirectNotAllowed):
        check_redirect("https://app.example.com/", frozenset(), own_host, "return_url")


@pytest.mark.parametrize(
    "own_host", ["billing.test", "evil.example.net", "localhost.evil.net", "127.0.0.2", None]
)
def test_with_no_configured_hosts_any_other_own_host_is_refused(own_host: str | None) -> None:
    """The own host is the request's Host header, which the caller picks: trusted only when
    it names this machine, never to allow itself as a redirect target."""
    with pytest.raises(RedirectNotAllowed):
        check_redirect(f"https://{own_host}/ok", frozenset(), own_host, "return_url")
