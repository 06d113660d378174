"""The ledger's chart of accounts and the kinds of transaction that move credits.

Every transaction moves credits between one user's wallet and one system account; the
wallet's side is split among its grants (`credits.grants`). System accounts have fixed
ids (seeded by migrations), so a posting never has to look them up.
"""

from __future__ import annotations

from dataclasses import dataclass

SYSTEM_ACCOUNT_IDS: dict[str, int] = {
    "purchases": 1,
    "subscriptions": 2,
    "grants": 3,
    "usage": 4,
    "refunds": 5,
    "expired": 6,
    "held": 0,  # not 7: on SQLite, wallets took the ids after 6 before migration 0011
}


@dataclass(frozen=True, slots=True)
class TransactionKind:
    name: str
    system_account: str
    credits_wallet: bool  # True: system -> wallet; False: wallet -> system
    # Credits: the source of the grant each one opens. Debits: the status a debit of one
    # whole grant leaves it in (`expiry`, `void`); None for ordinary debits.
    grant_source: str | None = None
    ends_grant: str | None = None

    @property
    def system_account_id(self) -> int:
        return SYSTEM_ACCOUNT_IDS[self.system_account]


PURCHASE = TransactionKind("purchase", "purchases", credits_wallet=True, grant_source="purchase")
SUBSCRIPTION_GRANT = TransactionKind(
    "subscription_grant", "subscriptions", credits_wallet=True, grant_source="subscription"
)
# A downgrade billed at once: the unused share of a plan's credits goes back.
SUBSCRIPTION_CLAWBACK = TransactionKind(
    "subscription_clawback", "subscriptions", credits_wallet=False
)
ADMIN_GRANT = TransactionKind("admin_grant", "grants", credits_wallet=True, grant_source="admin")
# An admin removes what remains of one grant.
VOID = TransactionKind("void", "grants", credits_wallet=False, ends_grant="voided")
SPEND = TransactionKind("spend", "usage", credits_wallet=False)
REFUND_CLAWBACK = TransactionKind("refund_clawback", "refunds", credits_wallet=False)
# A won dispute gives back what its claw-back took: the reverse of a `refund_clawback`.
DISPUTE_REINSTATEMENT = TransactionKind(
    "dispute_reinstatement", "refunds", credits_wallet=True, grant_source="purchase"
)
EXPIRY = TransactionKind("expiry", "expired", credits_wallet=False, ends_grant="expired")
# A hold reserves credits: an ordinary debit, from the wallet's grants into `held`.
HOLD = TransactionKind("hold", "held", credits_wallet=False)
# Settling one takes all it holds out of `held`: a capture moves its captured credits to
# `usage` and returns the rest to the wallet, a release (or the worker, at the hold's
# expiry) returns them all. Posted by `credits.hold_settlement`, not as a Transfer: a
# capture moves credits to two accounts.
HOLD_CAPTURE = TransactionKind("hold_capture", "held", credits_wallet=True)
HOLD_RELEASE = TransactionKind("hold_release", "held", credits_wallet=True)
