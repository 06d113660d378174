"""The catalog mirror's public face: apply Stripe's products and prices, look them up,
and say how many credits a purchase of a price grants.

Stripe is the source of truth. A state is applied only if it is at least as new as
the stored one (`state_at`: an event's `created`, or the second a fetch started), so
events processed out of order never roll the mirror back; every change bumps the
catalog version in the same transaction, which is what invalidates the caches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from billing.catalog import repository
from billing.catalog.fields import (
    CREDITS_EXPIRY_KEY,
    CREDITS_PRIORITY_KEY,
    NEVER,
    TRIAL_CREDITS_KEY,
    CreditsExpiry,
    credits_from,
    expanded_product,
    is_deleted,
    metadata_value,
    parse_expiry,
    parse_priority,
    price_fields,
    product_fields,
)
from billing.catalog.models import Price, Product
from billing.core.times import utcnow
from billing.stripe.client import retrieve_or_none
from billing.stripe.readers import StripeObject

T = TypeVar("T")


def _effective(obj: StripeObject, state_at: datetime) -> datetime:
    return state_at + repository.DELETION_PRECEDENCE if is_deleted(obj) else state_at


async def store_product(session: AsyncSession, product: StripeObject, state_at: datetime) -> bool:
    """Upsert without bumping the version (for callers that store several rows)."""
    fields = product_fields(product)
    return await repository.store(
        session, Product, str(product["id"]), fields, _effective(product, state_at)
    )


async def store_price(session: AsyncSession, price: StripeObject, state_at: datetime) -> bool:
    """Upsert a price, and its product first when it came expanded; no version bump."""
    product = expanded_product(price)
    changed = product is not None and await store_product(session, product, state_at)
    fields = price_fields(price)
    stored = await repository.store(
        session, Price, str(price["id"]), fields, _effective(price, state_at)
    )
    return stored or changed


async def apply_product(session: AsyncSession, product: dict[str, Any], state_at: datetime) -> None:
    """Mirror `product` as Stripe described it at `state_at`, in the caller's transaction."""
    if await store_product(session, product, state_at):
        await repository.bump_version(session)


async def apply_price(session: AsyncSession, price: dict[str, Any], state_at: datetime) -> None:
    """Mirror `price` (its product may be an id or expanded) as of `state_at`."""
    if await store_price(session, price, state_at):
        await repository.bump_version(session)


def snapshot_time() -> datetime:
    """The `state_at` of what a fetch starting now returns. Whole seconds, like event
    times: an event from this same second may be newer than the fetch, and ties apply."""
    return utcnow().replace(microsecond=0)


async def get_price(
    session: AsyncSession, client: stripe.StripeClient, price_id: str
) -> Price | None:
    """The mirrored price, fetched from Stripe (with its product) and stored on a miss;
    None if Stripe has no such price. Runs in the caller's transaction (or autobegins)."""
    price = await session.get(Price, price_id)
    if price is not None:
        return price
    state_at = snapshot_time()
    fetched = await retrieve_or_none(
        client.v1.prices.retrieve_async(price_id, {"expand": ["product"]})
    )
    if fetched is None:
        return None
    await apply_price(session, fetched, state_at)
    return await session.get(Price, str(fetched["id"]))


async def get_product(session: AsyncSession, product_id: str) -> Product | None:
    return await session.get(Product, product_id)


async def _fetch_product(
    session: AsyncSession, client: stripe.StripeClient, product_id: str
) -> Product | None:
    state_at = snapshot_time()
    fetched = await retrieve_or_none(client.v1.products.retrieve_async(product_id))
    if fetched is None:
        return None
    await apply_product(session, fetched, state_at)
    return await get_product(session, product_id)


def credits_per_unit(price: Price, product: Product | None) -> int | None:
    """Price metadata `credits`, else the product's; None when neither grants any."""
    if price.credits is not None:
        return price.credits
    return product.credits if product is not None else None


def _trial_credits(obj_id: str, metadata: dict[str, object]) -> int | None:
    return credits_from({"id": obj_id, "metadata": metadata}, TRIAL_CREDITS_KEY)


def trial_credits_per_unit(price: Price, product: Product | None) -> int:
    """Price metadata `trial_credits`, else the product's; 0 when neither says."""
    found = _trial_credits(price.stripe_id, price.metadata_)
    if found is None and product is not None:
        found = _trial_credits(product.stripe_id, product.metadata_)
    return found or 0


def _plan_value(
    price: Price, product: Product | None, key: str, parse: Callable[[Any], T | None]
) -> T | None:
    """Price (else Product) metadata `key` as `parse` reads it: the price's when it names
    `key`, malformed or not (logged, None), else the product's."""
    for found in (price, product):
        if found is not None and key in found.metadata_:
            kind = "price" if found is price else "product"
            told = {"id": found.stripe_id, "object": kind, "metadata": found.metadata_}
            return metadata_value(told, key, parse)
    return None


@dataclass(frozen=True, slots=True)
class PlanTerms:
    """What one unit of a price grants, on what terms, and what it costs."""

    price: Price
    credits: int  # per unit, per period (0: none)
    trial_credits: int  # per unit, for a trial's zero invoice
    expiry: CreditsExpiry = NEVER
    priority: int | None = None  # None: the ledger's default for subscription credits


async def plan_terms(
    session: AsyncSession, client: stripe.StripeClient, price_id: str, *, trial: bool = False
) -> PlanTerms | None:
    """The price's terms; None if Stripe has no such price. What the mirror lacks is
    fetched: the price, and its product when the price's own metadata does not say
    (its `credits`, or with `trial` its `trial_credits`). The credits' expiry and
    priority are read from the product only as mirrored: not worth a Stripe call inside
    a worker's transaction (`billing sync` and product events keep products mirrored)."""
    price = await get_price(session, client, price_id)
    if price is None:
        return None
    product = await get_product(session, price.product_id)
    untold = price.credits is None or (trial and TRIAL_CREDITS_KEY not in price.metadata_)
    if product is None and untold:
        product = await _fetch_product(session, client, price.product_id)
    credits = credits_per_unit(price, product) or 0
    return PlanTerms(
        price,
        credits,
        trial_credits_per_unit(price, product),
        _plan_value(price, product, CREDITS_EXPIRY_KEY, parse_expiry) or NEVER,
        _plan_value(price, product, CREDITS_PRIORITY_KEY, parse_priority),
    )


async def credits_for(
    session: AsyncSession, client: stripe.StripeClient, price_id: str, quantity: int
) -> int | None:
    """Credits that `quantity` units of the price grant; None grants nothing."""
    terms = await plan_terms(session, client, price_id)
    return terms.credits * quantity if terms is not None and terms.credits else None
