"""Request and response bodies of the /api/stripe routes.

Requests name what to buy, never what it costs: prices come from the catalog and
top-up credits from the server's rule. Unknown fields are refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from billing.core.ids import MAX_USER_ID
from billing.credits.schemas import Description
from billing.payments.models import Payment, Subscription

BodyUserId = Annotated[int, Field(strict=True, ge=1, le=MAX_USER_ID)]
STRIPE_ID_PATTERN = r"^[A-Za-z0-9_]{1,255}$"
StripeId = Annotated[str, StringConstraints(pattern=STRIPE_ID_PATTERN)]
RedirectUrl = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
MAX_QUANTITY = 100


class PaymentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: BodyUserId


class CheckoutSessionRequest(PaymentRequest):
    price_id: StripeId
    quantity: Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY)] = 1
    success_url: RedirectUrl
    cancel_url: RedirectUrl
    mode: Literal["payment", "subscription"]


class CheckoutSessionResult(BaseModel):
    id: str
    url: str


class PaymentIntentRequest(PaymentRequest):
    amount: Annotated[int, Field(strict=True, description="Minor units of `currency`")]
    currency: Annotated[str, StringConstraints(max_length=16)]
    description: Description | None = None
    save_card: Annotated[
        bool,
        Field(
            strict=True,
            description="Keep the card as the customer's default for auto top-up"
            " (Stripe's `setup_future_usage=off_session`).",
        ),
    ] = False


class PaymentIntentResult(BaseModel):
    id: str
    client_secret: str
    credits: int


class SubscriptionRequest(PaymentRequest):
    price_id: StripeId
    payment_method_id: StripeId | None = None


class SubscriptionCreated(BaseModel):
    subscription_id: str
    status: str
    client_secret: str | None = Field(
        default=None, description="Set while the first payment needs the customer (Stripe.js)"
    )


class PortalLink(BaseModel):
    url: str


class StripeConfig(BaseModel):
    publishable_key: str | None
    portal_url: str | None = None
    stripe_js_url: str


class SubscriptionView(BaseModel):
    """A subscription as the local mirror knows it."""

    id: str
    status: str
    price_id: str | None
    product_id: str | None
    quantity: int
    currency: str | None
    unit_amount: int | None
    interval: str | None
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None
    ended_at: datetime | None

    @classmethod
    def of(cls, row: Subscription) -> SubscriptionView:
        return cls(
            id=row.stripe_subscription_id,
            status=row.status,
            price_id=row.price_id,
            product_id=row.product_id,
            quantity=row.quantity,
            currency=row.currency,
            unit_amount=row.unit_amount,
            interval=row.interval,
            current_period_start=row.current_period_start,
            current_period_end=row.current_period_end,
            cancel_at_period_end=row.cancel_at_period_end,
            canceled_at=row.canceled_at,
            ended_at=row.ended_at,
        )


class PaymentRecord(BaseModel):
    """A payment as its payer keeps it: what, when, and Stripe's copies of it."""

    id: int
    stripe_id: str = Field(description="The payment intent, else the invoice")
    kind: str = Field(description="topup, checkout or invoice")
    status: str = Field(description="succeeded or failed")
    amount: int
    currency: str
    credits: int
    amount_refunded: int
    created_at: datetime
    invoice_url: str | None = Field(description="Stripe's hosted invoice page, for invoices")
    receipt_url: str | None = Field(description="The charge's receipt, once paid")

    @classmethod
    def of(cls, row: Payment) -> PaymentRecord:
        return cls(
            id=row.id,
            stripe_id=row.stripe_id,
            kind=row.kind,
            status=row.status,
            amount=row.amount,
            currency=row.currency,
            credits=row.credits,
            amount_refunded=row.amount_refunded,
            created_at=row.created_at,
            invoice_url=row.hosted_invoice_url or None,
            receipt_url=row.receipt_url or None,
        )


class PaymentRecordPage(BaseModel):
    data: list[PaymentRecord]
    has_more: bool
    next_cursor: str | None


class SavedCardView(BaseModel):
    """The card auto top-up and renewals charge: the customer's default payment method."""

    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
