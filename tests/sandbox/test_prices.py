"""Prices: create, retrieve, update, list with filters; expandable product."""

from __future__ import annotations

import uuid

import pytest
import stripe

from tests.support.sandbox import assert_shape


def test_recurring_price_with_product_and_metadata(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(params={"name": "Pro"})
    price = client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": 1500,
            "recurring": {"interval": "month"},
            "metadata": {"credits": "100"},
        }
    )
    assert price.type == "recurring"
    assert price.recurring.interval == "month"
    assert price.metadata["credits"] == "100"
    assert_shape(price)
    expanded = client.v1.prices.retrieve(price.id, params={"expand": ["product"]})
    assert expanded.product.name == "Pro"
    assert_shape(expanded.product)


def test_one_time_price_from_product_data(client: stripe.StripeClient) -> None:
    price = client.v1.prices.create(
        params={"currency": "eur", "unit_amount": 500, "product_data": {"name": "Top-up"}}
    )
    assert price.type == "one_time"
    assert price.recurring is None
    assert client.v1.products.retrieve(price.product).name == "Top-up"


def test_update_and_filters(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(params={"name": "Filters"})
    key = f"filters-{uuid.uuid4().hex}"
    monthly = client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": 900,
            "recurring": {"interval": "month"},
            "lookup_key": key,
        }
    )
    once = client.v1.prices.create(
        params={"product": product.id, "currency": "usd", "unit_amount": 100}
    )
    client.v1.prices.update(once.id, params={"active": False, "metadata": {"a": "b"}})

    def ids(**params: object) -> list[str]:
        listed = client.v1.prices.list(params={"product": product.id, **params})
        return [p.id for p in listed.data]

    assert ids() == [once.id, monthly.id]
    assert ids(active=True) == [monthly.id]
    assert ids(type="one_time") == [once.id]
    assert ids(lookup_keys=[key]) == [monthly.id]
    assert client.v1.prices.retrieve(once.id).metadata.to_dict() == {"a": "b"}


def test_a_lookup_key_is_unique_unless_transferred(client: stripe.StripeClient) -> None:
    key = f"unique-{uuid.uuid4().hex}"
    params = {"currency": "usd", "unit_amount": 1, "product_data": {"name": "K"}}
    first = client.v1.prices.create(params={**params, "lookup_key": key})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.prices.create(params={**params, "lookup_key": key})
    second = client.v1.prices.create(
        params={**params, "lookup_key": key, "transfer_lookup_key": True}
    )
    assert client.v1.prices.retrieve(first.id).lookup_key is None
    assert second.lookup_key == key


def test_unknown_price_is_resource_missing(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.prices.retrieve("price_nope")
    assert caught.value.code == "resource_missing"
