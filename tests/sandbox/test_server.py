"""The sandbox process: state in --data-dir, reset, several sandboxes side by side."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import stripe

from tests.support.sandbox_process import Sandbox, start, stop


def test_state_survives_a_restart_in_the_same_data_dir(tmp_path: Path) -> None:
    first = start(tmp_path)
    customer = first.client.v1.customers.create(params={"email": "keep@example.com"})
    stop(first)
    second = start(tmp_path)
    try:
        assert second.client.v1.customers.retrieve(customer.id).email == "keep@example.com"
    finally:
        stop(second)
    assert (tmp_path / "store.pickle").exists()


def test_two_sandboxes_on_two_ports_keep_separate_state(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    one, two = make_sandbox(), make_sandbox()
    assert one.url != two.url
    customer = one.client.v1.customers.create(params={"email": "one@example.com"})
    two.client.v1.customers.create(params={"email": "two@example.com"})
    assert one.client.v1.customers.retrieve(customer.id).email == "one@example.com"
    with pytest.raises(stripe.InvalidRequestError):
        two.client.v1.customers.retrieve(customer.id)


def test_reset_clears_everything(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox()
    customer = sandbox.client.v1.customers.create(params={"email": "gone@example.com"})
    with sandbox.http() as http:
        assert http.delete("/_config/data").status_code == 200
    with pytest.raises(stripe.InvalidRequestError):
        sandbox.client.v1.customers.retrieve(customer.id)
    assert sandbox.client.v1.events.list().data == []


def test_requests_without_a_secret_key_are_refused(sandbox: Sandbox) -> None:
    bad = stripe.StripeClient("pk_test_nope", base_addresses={"api": sandbox.url})
    with pytest.raises(stripe.AuthenticationError):
        bad.v1.webhook_endpoints.list()
