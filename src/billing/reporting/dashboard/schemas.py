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


class Credits(DashboardModel):
    issued: int
    spent: int
    expired: int
    clawed_back: int = Field(description="Taken back after refunds, disputes and downgrades")
    outstanding: int = Field(description="Held in wallets at the end of the range: the liability")


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
