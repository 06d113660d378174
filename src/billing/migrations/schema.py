"""Every table, imported in one place so Alembic and tests see the whole schema."""

from billing.audit.models import AuditEntry
from billing.auth.models import ApiKey
from billing.catalog.models import CatalogVersion, Price, Product
from billing.credits.models import (
    CreditAccount,
    CreditEntry,
    CreditGrant,
    CreditGrantEntry,
    CreditHold,
    CreditTransaction,
)
from billing.credits.rollups.models import CreditDayTotal, CreditRollup, CreditSpendWindow
from billing.db.outbox import OutboxMessage
from billing.db.types import Base
from billing.idempotency.models import IdempotencyRecord
from billing.outbound.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from billing.payments.auto_topup.models import AutoTopup, AutoTopupSettings
from billing.payments.models import (
    Dispute,
    Payment,
    PaymentDayTotal,
    StripeCustomer,
    Subscription,
    SubscriptionPlanTotal,
)
from billing.webhooks.models import WebhookEvent

metadata = Base.metadata

__all__ = [
    "ApiKey",
    "AuditEntry",
    "AutoTopup",
    "AutoTopupSettings",
    "CatalogVersion",
    "CreditAccount",
    "CreditDayTotal",
    "CreditEntry",
    "CreditGrant",
    "CreditGrantEntry",
    "CreditHold",
    "CreditRollup",
    "CreditSpendWindow",
    "CreditTransaction",
    "Dispute",
    "IdempotencyRecord",
    "OutboxMessage",
    "Payment",
    "PaymentDayTotal",
    "Price",
    "Product",
    "StripeCustomer",
    "Subscription",
    "SubscriptionPlanTotal",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "metadata",
]
