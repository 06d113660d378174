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


def test_with_no_configured_hosts_only_the_services_own_host_passes() -> None:
    assert check_redirect("https://Billing.Test/ok", frozenset(), "billing.test", "return_url")
    with pytest.raises(RedirectNotAllowed):
        check_redirect("https://app.example.com/", frozenset(), "billing.test", "return_url")
    with pytest.raises(RedirectNotAllowed):
        check_redirect("https://billing.test/", frozenset(), None, "return_url")
