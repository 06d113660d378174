"""Every table, imported in one place so Alembic and tests see the whole schema."""

from billing.auth import ApiKey
from billing.credits.models import CreditAccount, CreditEntry, CreditTransaction
from billing.db import Base
from billing.idempotency import IdempotencyRecord
from billing.webhooks.models import WebhookEvent

metadata = Base.metadata

__all__ = [
    "ApiKey",
    "CreditAccount",
    "CreditEntry",
    "CreditTransaction",
    "IdempotencyRecord",
    "WebhookEvent",
    "metadata",
]
