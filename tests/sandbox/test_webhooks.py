"""Webhook endpoints and delivery: signed, retried with backoff, the --webhook flag."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import stripe

from tests.support.sandbox import assert_shape, receiver, wait_for
from tests.support.sandbox_process import Sandbox


def test_endpoint_create_list_update_delete(client: stripe.StripeClient) -> None:
    endpoint = client.v1.webhook_endpoints.create(
        params={"url": "https://example.com/hook", "enabled_events": ["invoice.paid"]}
    )
    assert endpoint.secret.startswith("whsec_")
    assert_shape(endpoint)
    listed = client.v1.webhook_endpoints.list(params={"limit": 100}).data
    assert endpoint.id in [e.id for e in listed]
    assert "secret" not in client.v1.webhook_endpoints.retrieve(endpoint.id)
    updated = client.v1.webhook_endpoints.update(endpoint.id, params={"disabled": True})
    assert updated.status == "disabled"
    assert client.v1.webhook_endpoints.delete(endpoint.id).deleted
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.webhook_endpoints.retrieve(endpoint.id)


def test_events_are_signed_and_only_enabled_ones_sent(client: stripe.StripeClient) -> None:
    with receiver() as hook:
        endpoint = client.v1.webhook_endpoints.create(
            params={"url": hook.url, "enabled_events": ["customer.updated"]}
        )
        customer = client.v1.customers.create(params={"email": "signed@example.com"})
        client.v1.customers.update(customer.id, params={"name": "Signed"})
        delivery = wait_for(lambda: hook.about(customer.id))[0]
        client.v1.webhook_endpoints.delete(endpoint.id)
    event = stripe.Webhook.construct_event(delivery.body, delivery.signature, endpoint.secret)
    assert event.type == "customer.updated"
    assert event.data.object.name == "Signed"
    assert not hook.of_type("customer.created")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(delivery.body, delivery.signature, "whsec_wrong")


def test_a_failing_receiver_gets_the_event_until_it_succeeds(
    client: stripe.StripeClient,
) -> None:
    with receiver(failures=2) as hook:
        endpoint = client.v1.webhook_endpoints.create(
            params={"url": hook.url, "enabled_events": ["customer.created"]}
        )
        customer = client.v1.customers.create(params={"email": "retry@example.com"})
        wait_for(lambda: len(hook.about(customer.id)) >= 3)
        client.v1.webhook_endpoints.delete(endpoint.id)
        event = client.v1.events.list(params={"type": "customer.created", "limit": 1}).data[0]
        wait_for(lambda: client.v1.events.retrieve(event.id).pending_webhooks == 0)
    deliveries = hook.about(customer.id)
    assert len(deliveries) == 3
    assert len({d.event["id"] for d in deliveries}) == 1


def test_the_webhook_flag_receives_every_event(make_sandbox: Callable[..., Sandbox]) -> None:
    with receiver() as hook:
        secret = "whsec_flagsecret"
        sandbox = make_sandbox("--webhook", hook.url, "--webhook-secret", secret)
        customer = sandbox.client.v1.customers.create(params={"email": "flag@example.com"})
        delivery = wait_for(lambda: hook.about(customer.id))[0]
    event = stripe.Webhook.construct_event(delivery.body, delivery.signature, secret)
    assert event.type == "customer.created"


def test_a_receiver_that_times_out_gets_the_event_again(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    with receiver(stalls=1) as hook:
        sandbox = make_sandbox(
            "--webhook", hook.url, "--webhook-secret", "whsec_slow", "--webhook-timeout", "0.3"
        )
        customer = sandbox.client.v1.customers.create(params={"email": "slow@example.com"})
        wait_for(lambda: len(hook.about(customer.id)) >= 2)
        delivered = hook.about(customer.id)
    assert delivered[0].event["id"] == delivered[1].event["id"]


def test_an_endpoint_gets_events_in_the_order_they_happened(
    client: stripe.StripeClient,
) -> None:
    with receiver() as hook:
        endpoint = client.v1.webhook_endpoints.create(
            params={"url": hook.url, "enabled_events": ["customer.created", "customer.updated"]}
        )
        customer = client.v1.customers.create(params={"email": "order@example.com"})
        for name in ("one", "two", "three"):
            client.v1.customers.update(customer.id, params={"name": name})
        wait_for(lambda: len(hook.about(customer.id)) == 4)
        client.v1.webhook_endpoints.delete(endpoint.id)
    names = [d.event["data"]["object"]["name"] for d in hook.about(customer.id)]
    assert names == [None, "one", "two", "three"]
