"""The admin dashboard's body. Definitions of every figure: docs/dashboard.md."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Rate = Annotated[float, Field(ge=0, le=1, description="0 when its denominator is 0")]


class DashboardModel(BaseModel):
    # `from` is a Python keyword: the field is `from_`, spelled `from` on the wire.
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class DateRange(DashboardModel):
    from_: date = Field(alias="from")
    to: date


class CurrencyRevenue(DashboardModel):
    currency: str
    gross: int
    refunded: int = Field(description="Refunded or disputed, of the payments counted in gross")
    net: int


class DailyRevenue(CurrencyRevenue):
    date: date


class Revenue(DashboardModel):
    by_currency: list[CurrencyRevenue]
    daily: list[DailyRevenue] = Field(description="Days without a succeeded payment are left out")


class Recurring(DashboardModel):
    currency: str
    mrr: int
    arr: int


class Subscriptions(DashboardModel):
    active: int = Field(description="Live at the end of the range")
    new: int
    canceled: int = Field(description="Ended within the range")
    churn_rate: Rate


class Payments(DashboardModel):
    succeeded: int
    failed: int
    failure_rate: Rate


class CreditLiability(DashboardModel):
    paid: int = Field(description="Spendable credits of purchase, subscription and top-up grants")
    promotional: int = Field(description="Spendable credits of admin and promotion grants")
    held: int = Field(description="Reserved by active holds: still the users' credits")


class CreditBreakage(DashboardModel):
    paid: int = Field(description="Credits of paid grants that expired unused in the range")
    promotional: int = Field(description="Credits of promotional grants that expired unused")


class Credits(DashboardModel):
    issued: int
    spent: int
    expired: int
    clawed_back: int = Field(description="Taken back after refunds, disputes and downgrades")
    outstanding: int = Field(
        description="The liability at the end of the range (now, for a range ending today):"
        " spendable credits plus held ones, never those of grants past their expiry"
    )
    voided: int = Field(description="What remained of grants an admin voided in the range")
    liability: CreditLiability = Field(description="`outstanding`, by where the credits came from")
    breakage: CreditBreakage = Field(description="`expired`, by the source of the grants")


class TopUser(DashboardModel):
    user_id: int
    spent: int


class Webhooks(DashboardModel):
    received: int
    processed: int
    failed: int = Field(description="Failed at least once and waiting for a retry")
    dead: int
    ignored: int
    pending: int
    lag_p50_seconds: float | None = Field(description="None when no event was processed")
    lag_p95_seconds: float | None


class Dashboard(DashboardModel):
    range: DateRange
    revenue: Revenue
    recurring: list[Recurring]
    subscriptions: Subscriptions
    payments: Payments
    credits: Credits
    top_users: list[TopUser]
    webhooks: Webhooks
