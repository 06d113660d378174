"""/api/stripe: checkout, top-up intents, subscriptions, the portal, frontend config.

Routes check who may act for which user and which redirect URLs are allowed, then
hand over to the service modules. Stripe objects are created under idempotency
keys derived from the caller's `Idempotency-Key`, so a retry never creates twice.
"""

from __future__ import annotations

from typing import Annotated

import stripe
from fastapi import APIRouter, Depends, Path, Query
from pydantic import BeforeValidator, Field
from starlette.requests import Request

from billing.auth.dependencies import CurrentPrincipal, SelfOrAdmin, UserId
from billing.auth.principals import Principal
from billing.core.config import Settings
from billing.core.errors import Forbidden, NotFound
from billing.core.ids import MAX_USER_ID, parse_user_id
from billing.core.pagination import decode_cursor, page_of
from billing.db.engine import get_database
from billing.db.statements import read_without_transaction
from billing.idempotency.route import HEADER as IDEMPOTENCY_HEADER
from billing.idempotency.route import IdempotentRoute, idempotency_key
from billing.payments import (
    checkout,
    documents,
    intents,
    portal,
    repository,
    subscription_mirror,
    subscriptions,
)
from billing.payments.redirects import check_redirect
from billing.payments.schemas import (
    STRIPE_ID_PATTERN,
    CheckoutSessionRequest,
    CheckoutSessionResult,
    PaymentIntentRequest,
    PaymentIntentResult,
    PaymentRecord,
    PaymentRecordPage,
    PortalLink,
    RedirectUrl,
    SavedCardView,
    StripeConfig,
    SubscriptionCreated,
    SubscriptionRequest,
    SubscriptionView,
)
from billing.stripe.client import derive_key, get_stripe, request_key

router = APIRouter(prefix="/api/stripe", tags=["payments"], route_class=IdempotentRoute)
StripeClient = Annotated[stripe.StripeClient, Depends(get_stripe)]
QueryUserId = Annotated[  # bounds before the validator, as in `UserId`
    int,
    Field(ge=1, le=MAX_USER_ID),
    BeforeValidator(parse_user_id),
    Query(description="Platform user id"),
]


def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _act_for(principal: Principal, user_id: int) -> None:
    """A user acts only for itself; admins for anyone; service keys do not pay."""
    if not principal.may_access(user_id, service_allowed=False):
        raise Forbidden("These credentials may not act for this user.")


def _redirect(request: Request, url: str, name: str) -> str:
    allowed = app_settings(request).allowed_redirect_hosts
    return check_redirect(url, allowed, request.url.hostname, name)


def _stripe_key(request: Request, operation: str, principal: Principal) -> str:
    """The Stripe idempotency key from the caller's `Idempotency-Key` (a GET that creates
    something in Stripe, the portal session, reads the header itself)."""
    client_key = idempotency_key(request) or request.headers.get(IDEMPOTENCY_HEADER)
    return request_key(operation, principal.scope, client_key)


@router.post("/create-checkout-session")
async def create_checkout_session(
    body: CheckoutSessionRequest,
    request: Request,
    principal: CurrentPrincipal,
    client: StripeClient,
) -> CheckoutSessionResult:
    _act_for(principal, body.user_id)
    _redirect(request, body.success_url, "success_url")
    _redirect(request, body.cancel_url, "cancel_url")
    key = _stripe_key(request, "checkout", principal)
    async with get_database(request).sessions() as session:
        created = await checkout.create_session(session, client, body, key)
    assert created.url is not None
    return CheckoutSessionResult(id=created.id, url=created.url)


@router.post("/create-payment-intent")
async def create_payment_intent(
    body: PaymentIntentRequest, request: Request, principal: CurrentPrincipal, client: StripeClient
) -> PaymentIntentResult:
    _act_for(principal, body.user_id)
    key = _stripe_key(request, "payment_intent", principal)
    async with get_database(request).sessions() as session:
        topup = await intents.create_topup(session, client, app_settings(request), body, key)
    assert topup.intent.client_secret is not None
    return PaymentIntentResult(
        id=topup.intent.id, client_secret=topup.intent.client_secret, credits=topup.credits
    )


@router.post("/create-subscription")
async def create_subscription(
    body: SubscriptionRequest, request: Request, principal: CurrentPrincipal, client: StripeClient
) -> SubscriptionCreated:
    _act_for(principal, body.user_id)
    key = _stripe_key(request, "subscription", principal)
    async with get_database(request).sessions() as session:
        started = await subscriptions.start(session, client, app_settings(request), body, key)
    return SubscriptionCreated(
        subscription_id=started.subscription_id,
        status=started.status,
        client_secret=started.client_secret,
    )


@router.delete("/subscriptions/{subscription_id}")
async def cancel_subscription(
    subscription_id: Annotated[str, Path(pattern=STRIPE_ID_PATTERN)],
    request: Request,
    principal: CurrentPrincipal,
    client: StripeClient,
    at_period_end: bool = True,
) -> SubscriptionView:
    """Cancel at the end of the paid period (the default) or now; owner or admin."""
    async with get_database(request).sessions() as session:
        async with session.begin():
            row = await subscription_mirror.by_stripe_id(session, subscription_id)
        if row is None:
            raise NotFound("No such subscription.")
        if row.user_id is None and principal.role != "admin":
            raise Forbidden("Only an admin may cancel a subscription of no known user.")
        _act_for(principal, row.user_id or 0)
        key = _stripe_key(request, "cancel", principal)
        canceled = await subscriptions.cancel(session, client, row, at_period_end, key)
    return SubscriptionView.of(canceled)


@router.get("/subscriptions/{user_id}")
async def list_subscriptions(
    user_id: UserId, principal: SelfOrAdmin, request: Request
) -> list[SubscriptionView]:
    """The user's subscriptions as the local mirror knows them, newest first."""
    async with get_database(request).sessions() as session:
        await read_without_transaction(session)
        rows = await repository.subscriptions_for_user(session, user_id)
    return [SubscriptionView.of(row) for row in rows]


@router.get("/invoices/{user_id}")
async def list_invoices(
    user_id: UserId,
    principal: SelfOrAdmin,
    request: Request,
    client: Annotated[stripe.StripeClient, Depends(get_stripe)],
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> PaymentRecordPage:
    """The user's payments, newest first, with Stripe's hosted invoice page and receipt."""
    async with get_database(request).sessions() as session:
        rows = await documents.page(session, client, user_id, decode_cursor(cursor), limit + 1)
    shown, after = page_of(rows, limit)
    return PaymentRecordPage(
        data=[PaymentRecord.of(row) for row in shown], has_more=after is not None, next_cursor=after
    )


@router.get("/saved-card/{user_id}")
async def saved_card(
    user_id: UserId,
    principal: SelfOrAdmin,
    request: Request,
    client: Annotated[stripe.StripeClient, Depends(get_stripe)],
) -> SavedCardView | None:
    """The card renewals and auto top-up charge (the customer's default); null if none."""
    async with get_database(request).sessions() as session:
        return await documents.saved_card(session, client, user_id)


@router.get("/customer-portal")
async def customer_portal(
    user_id: QueryUserId,
    return_url: Annotated[RedirectUrl, Query()],
    request: Request,
    principal: CurrentPrincipal,
) -> PortalLink:
    _act_for(principal, user_id)
    _redirect(request, return_url, "return_url")
    # No stored response guards a GET's key against other parameters: they are in it.
    key = derive_key(_stripe_key(request, "portal", principal), str(user_id), return_url)
    async with get_database(request).sessions() as session:
        url = await portal.portal_url(
            session, request.app.state.stripe, app_settings(request), user_id, return_url, key
        )
    return PortalLink(url=url)


@router.get("/config")
async def stripe_config(request: Request) -> StripeConfig:
    """Public: the publishable key and where to load Stripe.js from."""
    return portal.frontend_config(app_settings(request))
