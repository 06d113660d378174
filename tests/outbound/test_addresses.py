"""The SSRF guard: production sends only over https to public addresses, whatever the
URL spells; development also lets a receiver on this machine be tried."""

from __future__ import annotations

import pytest

from billing.outbound.addresses import Refused, check

REFUSED_IN_PRODUCTION = {
    "plain http": "http://93.184.215.14/hook",
    "loopback": "https://127.0.0.1/hook",
    "loopback, another spelling": "https://127.1/hook",
    "loopback by name": "https://localhost/hook",
    "private": "https://10.0.0.5/hook",
    "private, 192.168": "https://192.168.1.10:8443/hook",
    "carrier-grade NAT (Alibaba's metadata)": "https://100.100.100.200/latest",
    "link-local metadata": "https://169.254.169.254/latest/meta-data/",
    "unspecified": "https://0.0.0.0/hook",
    "IPv6 loopback": "https://[::1]/hook",
    "IPv6 unique-local metadata": "https://[fd00:ec2::254]/latest",
    "IPv6 link-local": "https://[fe80::1]/hook",
    "IPv4 mapped into IPv6": "https://[::ffff:127.0.0.1]/hook",
    "IPv4 inside 6to4": "https://[2002:a9fe:a9fe::1]/hook",
    "multicast": "https://224.0.0.1/hook",
    "credentials in the URL": "https://user:pass@93.184.215.14/hook",
    "no host": "https:///hook",
    "another scheme": "file:///etc/passwd",
    "a name that does not resolve": "https://receiver.invalid/hook",
    "a bad port": "https://93.184.215.14:99999/hook",
}


@pytest.mark.parametrize("url", REFUSED_IN_PRODUCTION.values(), ids=REFUSED_IN_PRODUCTION)
async def test_production_refuses(url: str) -> None:
    with pytest.raises(Refused):
        await check(url, production=True)


@pytest.mark.parametrize(
    "url", ["https://93.184.215.14/hook", "https://[2606:2800:220:1::1]:8443/x?y=1"]
)
async def test_production_takes_https_to_a_public_address(url: str) -> None:
    assert await check(url, production=True)


async def test_development_takes_a_receiver_on_this_machine() -> None:
    assert [str(a) for a in await check("http://127.0.0.1:9000/hook", production=False)] == [
        "127.0.0.1"
    ]
    with pytest.raises(Refused, match="must start with"):
        await check("ftp://127.0.0.1/hook", production=False)


async def test_a_url_longer_than_2048_characters_is_refused() -> None:
    with pytest.raises(Refused, match="longer"):
        await check("https://93.184.215.14/" + "a" * 2048, production=True)
