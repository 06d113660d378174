"""Bodies of the reporting routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class Plan(BaseModel):
    subscription_id: str
    price_id: str | None
    product_id: str | None
    product_name: str | None
    quantity: int
    currency: str | None
    unit_amount: int | None
    interval: str | None
    interval_count: int | None


class CurrencyTotal(BaseModel):
    currency: str
    amount_paid: int = Field(description="Minor units paid for subscriptions, refunds included")
    amount_refunded: int


class SubscriptionTotals(BaseModel):
    credits_granted: int = Field(
        description="Credits granted by subscription invoices, ever, less what downgrades took back"
    )
    payments: list[CurrencyTotal]


class SubscriptionSummary(BaseModel):
    user_id: int
    plan: Plan | None = Field(description="The newest subscription that has not ended")
    status: str | None
    renews_at: datetime | None = Field(description="Next renewal, unless it is set to end")
    ends_at: datetime | None = Field(description="When it ends, if canceled at period end")
    credits_per_cycle: int | None
    totals: SubscriptionTotals
