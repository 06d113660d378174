"""/v1/events: newest first, paged with starting_after and ending_before."""

from __future__ import annotations

import stripe

from tests.support.sandbox import assert_shape


def _customers(client: stripe.StripeClient, count: int) -> list[str]:
    return [client.v1.customers.create(params={"name": f"c{i}"}).id for i in range(count)]


def test_events_are_listed_newest_first(client: stripe.StripeClient) -> None:
    ids = _customers(client, 3)
    events = client.v1.events.list(params={"type": "customer.created", "limit": 3}).data
    assert [e.data.object.id for e in events] == ids[::-1]
    assert_shape(events[0])
    assert events[0].request.id.startswith("req_")


def test_pages_forward_and_back_like_stripe(client: stripe.StripeClient) -> None:
    _customers(client, 5)
    params = {"type": "customer.created"}
    first = client.v1.events.list(params={**params, "limit": 2})
    assert first.has_more
    second = client.v1.events.list(
        params={**params, "limit": 2, "starting_after": first.data[-1].id}
    )
    assert second.data[0].created <= first.data[-1].created
    back = client.v1.events.list(params={**params, "limit": 2, "ending_before": second.data[0].id})
    assert [e.id for e in back.data] == [e.id for e in first.data]
    assert not {e.id for e in first.data} & {e.id for e in second.data}


def test_auto_paging_walks_every_event(client: stripe.StripeClient) -> None:
    ids = set(_customers(client, 4))
    seen = {
        e.data.object.id
        for e in client.v1.events.list(
            params={"type": "customer.created", "limit": 2}
        ).auto_paging_iter()
    }
    assert ids <= seen


def test_retrieve_one_event(client: stripe.StripeClient) -> None:
    _customers(client, 1)
    latest = client.v1.events.list(params={"limit": 1}).data[0]
    assert client.v1.events.retrieve(latest.id).id == latest.id
