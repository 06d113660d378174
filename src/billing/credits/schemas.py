"""Request and response bodies of the credit routes.

Amounts are strict positive integers below 2**53 (exact in every JSON
client); unknown fields are refused so a typo never silently changes money.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from billing.core.ids import MAX_USER_ID
from billing.core.times import ISO_8601_ONLY, utcnow
from billing.credits.grants import MAX_PRIORITY, MIN_PRIORITY, GrantSource

MAX_AMOUNT = 2**53 - 1
Priority = Annotated[int, Field(strict=True, ge=MIN_PRIORITY, le=MAX_PRIORITY)]


def _no_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL; refuse it on both databases alike."""
    if "\x00" in value:
        raise ValueError("text may not contain NUL characters")
    return value


CreditAmount = Annotated[int, Field(strict=True, gt=0, le=MAX_AMOUNT)]
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=255)]
MetadataKey = Annotated[
    str, StringConstraints(min_length=1, max_length=40), AfterValidator(_no_nul)
]
MetadataValue = Annotated[str, StringConstraints(max_length=500), AfterValidator(_no_nul)]
Description = Annotated[str, StringConstraints(max_length=500), AfterValidator(_no_nul)]
Metadata = Annotated[dict[MetadataKey, MetadataValue], Field(max_length=50)]


class MoneyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")


Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    AfterValidator(_no_nul),
]


class AddCreditsRequest(MoneyRequest):
    amount: CreditAmount
    reason: Reason
    idempotency_key: IdempotencyKey | None = None
    expires_at: Annotated[datetime | None, ISO_8601_ONLY] = None
    priority: Priority | None = Field(
        default=None,
        description="0..100, lower is consumed first; default 10 for a promotion, else 50",
    )
    source: Literal["admin", "promotion"] = "admin"

    @field_validator("expires_at")
    @classmethod
    def _future_and_aware(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("expires_at needs a timezone (for example 2030-01-01T00:00:00Z)")
        if value <= utcnow():
            raise ValueError("expires_at must be in the future")
        return value


class SpendCreditsRequest(MoneyRequest):
    amount: CreditAmount
    description: Description | None = None
    idempotency_key: IdempotencyKey | None = None
    metadata: Metadata | None = None


MAX_USAGE_EVENTS = 1000
UsageStatus = Literal["posted", "replayed", "insufficient_credits", "conflict", "invalid"]


class UsageEvent(MoneyRequest):
    """One metered debit; its key is the ledger key, as a spend's Idempotency-Key is."""

    user_id: Annotated[int, Field(strict=True, gt=0, le=MAX_USER_ID)]
    amount: CreditAmount
    idempotency_key: IdempotencyKey
    description: Description | None = None
    metadata: Metadata | None = None


class UsageBatch(MoneyRequest):
    """Events are read one by one (`UsageEvent`): a malformed one is `invalid` on its own."""

    events: Annotated[list[object], Field(min_length=1, max_length=MAX_USAGE_EVENTS)]


class UsageResult(BaseModel):
    idempotency_key: str | None
    user_id: int | None
    status: UsageStatus
    transaction_id: int | None = None
    balance: int | None = None
    detail: str | None = None


class UsageResults(BaseModel):
    results: list[UsageResult] = Field(description="One per event, in the request's order")


class CreditTransactionResult(BaseModel):
    transaction_id: int
    user_id: int
    amount: int
    balance: int
    created_at: datetime


class ExpiringCredits(BaseModel):
    amount: int
    expires_at: datetime


class CreditBalance(BaseModel):
    user_id: int
    balance: int = Field(description="What can be spent now")
    held: int = Field(description="What active holds reserve")
    expiring: list[ExpiringCredits] = Field(
        description="The next (up to 3) expiry times of spendable grants, soonest first"
    )
    currency: Literal["credits"] = "credits"
    updated_at: datetime | None


GrantStatus = Literal["active", "depleted", "expired", "voided"]


class Grant(BaseModel):
    id: int
    user_id: int
    source: GrantSource
    amount: int
    remaining: int = Field(description="0 once expired, voided or spent")
    priority: int
    effective_at: datetime
    expires_at: datetime | None
    status: GrantStatus
    reference: str | None
    created_at: datetime


class GrantList(BaseModel):
    data: list[Grant] = Field(description="In consumption order")


class AddCreditsResult(CreditTransactionResult):
    grant: Grant


class VoidGrantRequest(MoneyRequest):
    reason: Reason
    idempotency_key: IdempotencyKey | None = None


class VoidGrantResult(BaseModel):
    grant: Grant
    transaction_id: int
    balance: int


class CreditHistoryItem(BaseModel):
    id: int
    kind: str
    amount: int = Field(description="Signed change to the wallet: positive adds, negative takes")
    balance_after: int
    description: str | None
    reference: str | None
    metadata: dict[str, object] | None
    expires_at: datetime | None
    created_at: datetime


class CreditHistoryPage(BaseModel):
    data: list[CreditHistoryItem]
    has_more: bool
    next_cursor: str | None
