"""Bodies of the user lookup and credit usage routes."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from billing.credits.schemas import ExpiringCredits
from billing.reporting.dashboard.schemas import DateRange


class UserSummary(BaseModel):
    user_id: int
    email: str | None = Field(description="Decrypted, for admins; None if unknown or erased")
    name: str | None
    stripe_customer_id: str | None = Field(description="The user's current customer")
    balance: int = Field(description="The wallet's credits, expired-but-not-swept included")


class UserSearch(BaseModel):
    data: list[UserSummary]


class UserProfile(BaseModel):
    user_id: int
    email: str | None
    name: str | None
    stripe_customer_id: str | None
    personal_data_erased: bool = Field(description="An earlier customer's data was erased")
    balance: int = Field(description="What can be spent now")
    held: int = Field(description="What active holds reserve")
    expiring: list[ExpiringCredits]
    low_balance_threshold: int | None
    updated_at: datetime | None


class UsageDay(BaseModel):
    day: date
    spent: int = Field(description="Credits used: spends, usage events and captured holds")
    granted: int = Field(description="Credits granted: purchases, plans, admins' grants")


class CreditUsage(BaseModel):
    user_id: int
    range: DateRange
    days: list[UsageDay] = Field(description="Every day of the range, oldest first")
