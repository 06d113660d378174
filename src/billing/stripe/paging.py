"""Walking a Stripe list to its end, page by page, with each object exactly as
Stripe sent it.

The raw JSON of the response, not the SDK's objects: `to_dict()` turns decimal
strings into `Decimal`s, so it is not the body a webhook carries, and an event
filed from it would differ from the same event delivered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import stripe

from billing.stripe.client import stripe_errors
from billing.stripe.readers import StripeObject

PAGE_SIZE = 100  # Stripe's largest page
ListCall = Callable[[Any], Awaitable[stripe.ListObject[Any]]]


async def raw_pages(
    list_call: ListCall, params: dict[str, Any]
) -> AsyncIterator[list[StripeObject]]:
    """Every page of `list_call(params)`, in Stripe's order (newest first), as raw JSON
    objects; paging by `starting_after`, so objects created meanwhile shift nothing."""
    cursor: dict[str, str] = {}
    while True:
        async with stripe_errors():
            page = await list_call({**params, "limit": PAGE_SIZE, **cursor})
        items = _raw_items(page)
        yield items
        if not (page.has_more and items):
            return
        cursor = {"starting_after": str(items[-1]["id"])}


def _raw_items(page: stripe.ListObject[Any]) -> list[StripeObject]:
    response = page.last_response
    assert response is not None, "a page the API returned carries its response"
    body = response.data
    assert isinstance(body, dict)
    return [item for item in body["data"] if isinstance(item, dict)]
