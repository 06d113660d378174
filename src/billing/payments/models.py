"""Local mirrors of Stripe objects the service reasons about.

These rows are state, not history: they change as Stripe's objects change
(credits never live here; the ledger holds them). Each is keyed by Stripe's id,
unique, so a redelivered or reordered event updates the same row.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final, Literal

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from billing.db.types import Base, BigIntId, UTCDateTime

# A recorded payment's status: one definition, with a constant for each.
PaymentStatus = Literal["succeeded", "failed"]
SUCCEEDED: Final[PaymentStatus] = "succeeded"
FAILED: Final[PaymentStatus] = "failed"
# Subscription statuses that are final: nothing revives them.
SUBSCRIPTION_ENDED: Final = ("canceled", "incomplete_expired")
# Its first payment never succeeded: never counted as started.
NEVER_STARTED: Final = ("incomplete", "incomplete_expired")
# Live, but not being paid for.
NOT_PAYING: Final = ("trialing", "paused", "unpaid")


class StripeCustomer(Base):
    """A platform user's Stripe customer. A user has one current customer (a partial
    unique index), and a customer one user (unique), so a race loses cleanly. Erasure
    deletes the customer at Stripe and sets `erased_at`: the row stays, so the old
    customer's events still name the user for the financial records, but it is no longer
    the user's customer, and the next payment makes a new one."""

    __tablename__ = "stripe_customers"
    __table_args__ = (
        Index(
            "ux_stripe_customers_current_user_id",
            "user_id",
            unique=True,
            sqlite_where=text("erased_at IS NULL"),
            postgresql_where=text("erased_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    stripe_customer_id: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Personal data, Fernet tokens (billing.core.encryption); NULL once erased.
    email_encrypted: Mapped[str | None] = mapped_column(Text)
    name_encrypted: Mapped[str | None] = mapped_column(Text)
    # The email's keyed hash (core.encryption.email_lookup), for admins' search; NULL once
    # erased, and for rows stored before migration 0020 until `billing rotate-keys`.
    email_lookup: Mapped[str | None] = mapped_column(String(64), index=True)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Subscription(Base):
    """The newest known state of a Stripe subscription.

    `state_at` is when Stripe produced the state stored (an event's `created`, or
    the time an API response was read); older states never overwrite newer ones,
    and a subscription that ended stays ended.
    """

    __tablename__ = "subscriptions"
    # The dashboard's subscriptions that started or ended in a range.
    __table_args__ = (
        Index("ix_subscriptions_created_at", "created_at"),
        Index("ix_subscriptions_ended_at", "ended_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    stripe_subscription_id: Mapped[str] = mapped_column(String(255), unique=True)
    user_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    stripe_customer_id: Mapped[str] = mapped_column(String(255), index=True)
    status: Mapped[str] = mapped_column(String(32))
    price_id: Mapped[str | None] = mapped_column(String(255))
    product_id: Mapped[str | None] = mapped_column(String(255))
    quantity: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str | None] = mapped_column(String(3))
    unit_amount: Mapped[int | None] = mapped_column(BigInteger)
    interval: Mapped[str | None] = mapped_column(String(16))
    interval_count: Mapped[int | None] = mapped_column(Integer)
    current_period_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    current_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Payment(Base):
    """A payment that was (or failed to be) made, and the credits it bought.

    Keyed by the Stripe object that identifies it: the payment intent when there
    is one, else the invoice. Refunds and disputes claw back credits in
    proportion; what a wallet could no longer cover is kept in `credits_unrecovered`.
    """

    __tablename__ = "payments"
    __table_args__ = (
        # The dashboard's revenue and failure figures: index-only scans on PostgreSQL.
        Index(
            "ix_payments_created_at",
            "created_at",
            postgresql_include=[
                "status",
                "currency",
                "amount",
                "amount_refunded",
                "amount_disputed",
            ],
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    stripe_id: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # topup | checkout | invoice
    status: Mapped[str] = mapped_column(String(16))  # succeeded | failed
    user_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    credits: Mapped[int] = mapped_column(BigInteger)
    amount_refunded: Mapped[int] = mapped_column(BigInteger)
    amount_disputed: Mapped[int] = mapped_column(BigInteger)
    credits_clawed_back: Mapped[int] = mapped_column(BigInteger)
    credits_unrecovered: Mapped[int] = mapped_column(BigInteger)
    # What the credits were bought for when more than `amount` (an invoice paid partly
    # from the customer's balance): refunds and disputes take back their share of this.
    credit_basis: Mapped[int | None] = mapped_column(BigInteger)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    charge_id: Mapped[str | None] = mapped_column(String(255), index=True)
    invoice_id: Mapped[str | None] = mapped_column(String(255))
    subscription_id: Mapped[str | None] = mapped_column(String(255))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(Text)
    # The customer's copies, as Stripe hosts them: found on first display
    # (`payments.documents`); "" when Stripe had none to give.
    hosted_invoice_url: Mapped[str | None] = mapped_column(Text)
    receipt_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Dispute(Base):
    """A dispute of a payment's charge that moved money, and the credits it moved.

    Made on the first news that its funds went or came back; an inquiry (`warning_*`),
    which moves no money, never has one. `withdrawn_at` is when its claw-back was settled:
    `credits_clawed_back` taken from the wallet, `credits_unrecovered` what the wallet
    could not cover. `reinstated_at` is when it was known won: `credits_reinstated` (all
    that the claw-back took) given back. One known won before its withdrawal is never
    clawed back (`withdrawn_at` stays NULL). `status` is the newest known (`state_at`:
    the creation time of the event that told it).
    """

    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    stripe_dispute_id: Mapped[str] = mapped_column(String(255), unique=True)
    payment_id: Mapped[int] = mapped_column(BigInteger, index=True)  # payments.id
    charge_id: Mapped[str | None] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(32))
    state_at: Mapped[datetime] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reinstated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    credits_clawed_back: Mapped[int] = mapped_column(BigInteger)
    credits_unrecovered: Mapped[int] = mapped_column(BigInteger)
    credits_reinstated: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PaymentDayTotal(Base):
    """Payments recorded on one UTC day in one currency with one status: how many, their
    amount, and what refunds and disputes took back of it (at most the amount). Kept by
    database triggers on `payments` in the writing transaction (migration 0023); checked
    against the payments by `billing verify-ledger`."""

    __tablename__ = "payment_day_totals"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    reversed: Mapped[int] = mapped_column(BigInteger)


# A plan group's key as `subscription_plan_totals` stores it: no NULL in a primary key.
NO_CURRENCY, NO_INTERVAL, NO_INTERVAL_COUNT = "", "", 0


class SubscriptionPlanTotal(Base):
    """The subscriptions live now (started, not ended) on one currency and billing
    interval: how many, how many of those are paid for, and what those cost per interval
    (unit amount x quantity). Kept by database triggers on `subscriptions` in the writing
    transaction (migration 0024); checked against them by `billing verify-ledger`."""

    __tablename__ = "subscription_plan_totals"

    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    interval: Mapped[str] = mapped_column(String(16), primary_key=True)
    interval_count: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    live: Mapped[int] = mapped_column(BigInteger)
    paying: Mapped[int] = mapped_column(BigInteger)
    recurring: Mapped[int] = mapped_column(BigInteger)
