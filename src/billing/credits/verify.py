"""Proof that the ledger's invariants hold, for `billing verify-ledger`.

Each check is one query that returns the offending rows, so an empty result
is the proof and a non-empty one names what is wrong. The audit log's hash chain
is walked too, and its first broken entry named.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from billing.audit.chain import ChainReport, verify_chain
from billing.credits.rollups.checks import rollup_failures
from billing.db.statements import read_in_one_snapshot

CHECKS: dict[str, str] = {
    "every transaction has two or more entries summing to zero": """
        SELECT t.id FROM credit_transactions t
        LEFT JOIN credit_entries e ON e.transaction_id = t.id
        GROUP BY t.id
        HAVING COUNT(e.id) < 2 OR COALESCE(SUM(e.amount), 0) <> 0
    """,
    "every entry names an account and a transaction": """
        SELECT e.id FROM credit_entries e
        LEFT JOIN credit_accounts a ON a.id = e.account_id
        LEFT JOIN credit_transactions t ON t.id = e.transaction_id
        WHERE a.id IS NULL OR t.id IS NULL
    """,
    "every wallet's balance equals the sum of its entries": """
        SELECT a.id FROM credit_accounts a
        LEFT JOIN (
            SELECT account_id, SUM(amount) AS total FROM credit_entries GROUP BY account_id
        ) s ON s.account_id = a.id
        WHERE a.kind = 'wallet' AND a.balance <> COALESCE(s.total, 0)
    """,
    "no wallet is below zero": """
        SELECT id FROM credit_accounts WHERE kind = 'wallet' AND balance < 0
    """,
    "each wallet entry records the balance right after it": """
        SELECT id FROM (
            SELECT e.id, e.balance_after,
                   SUM(e.amount) OVER (PARTITION BY e.account_id ORDER BY e.id) AS running
            FROM credit_entries e JOIN credit_accounts a ON a.id = e.account_id
            WHERE a.kind = 'wallet'
        ) w
        WHERE balance_after IS NULL OR balance_after <> running
    """,
    # A hold's whole capture moves credits from `held` to `usage` only.
    "every transaction moves credits in or out of exactly one wallet (a capture: at most)": """
        SELECT e.transaction_id FROM credit_entries e
        JOIN credit_accounts a ON a.id = e.account_id
        JOIN credit_transactions t ON t.id = e.transaction_id
        GROUP BY e.transaction_id, t.kind
        HAVING SUM(CASE WHEN a.kind = 'wallet' THEN 1 ELSE 0 END) > 1
            OR (SUM(CASE WHEN a.kind = 'wallet' THEN 1 ELSE 0 END) = 0
                AND t.kind <> 'hold_capture')
    """,
    "each hold's credits are in `held` from its hold until its settlement": """
        SELECT h.id FROM credit_holds h
        JOIN credit_entries e
            ON e.transaction_id IN (h.hold_transaction_id, h.settlement_transaction_id)
        JOIN credit_accounts a ON a.id = e.account_id AND a.name = 'held'
        GROUP BY h.id, h.amount, h.status
        HAVING SUM(e.amount) <> CASE WHEN h.status = 'active' THEN h.amount ELSE 0 END
            OR COUNT(*) <> CASE WHEN h.status = 'active' THEN 1 ELSE 2 END
    """,
    "`held` holds what active holds reserve, and nothing else": """
        SELECT a.id FROM credit_accounts a
        WHERE a.name = 'held'
          AND (SELECT COALESCE(SUM(e.amount), 0) FROM credit_entries e WHERE e.account_id = a.id)
              <> (SELECT COALESCE(SUM(h.amount), 0) FROM credit_holds h WHERE h.status = 'active')
    """,
    "every grant's remaining equals the sum of its grant entries": """
        SELECT g.id FROM credit_grants g
        LEFT JOIN (
            SELECT grant_id, SUM(amount) AS total FROM credit_grant_entries GROUP BY grant_id
        ) s ON s.grant_id = g.id
        WHERE g.remaining <> COALESCE(s.total, 0)
    """,
    "every grant entry names a grant, and a transaction unless it opened a carried balance": """
        SELECT ge.id FROM credit_grant_entries ge
        LEFT JOIN credit_grants g ON g.id = ge.grant_id
        LEFT JOIN credit_transactions t ON t.id = ge.transaction_id
        WHERE g.id IS NULL OR (ge.transaction_id IS NOT NULL AND t.id IS NULL)
           OR (ge.transaction_id IS NULL AND g.transaction_id IS NOT NULL)
    """,
    "no grant holds less than zero or more than its amount": """
        SELECT id FROM credit_grants WHERE remaining < 0 OR remaining > amount
    """,
    "every wallet's balance equals what its active grants hold": """
        SELECT a.id FROM credit_accounts a
        LEFT JOIN (
            SELECT account_id, SUM(remaining) AS total FROM credit_grants
            WHERE status = 'active' GROUP BY account_id
        ) g ON g.account_id = a.id
        WHERE a.kind = 'wallet' AND a.balance <> COALESCE(g.total, 0)
    """,
    "every wallet entry since grants began is split among grants": """
        SELECT e.transaction_id FROM credit_entries e
        JOIN credit_accounts a ON a.id = e.account_id AND a.kind = 'wallet'
        LEFT JOIN (
            SELECT transaction_id, SUM(amount) AS total FROM credit_grant_entries
            WHERE transaction_id IS NOT NULL GROUP BY transaction_id
        ) g ON g.transaction_id = e.transaction_id
        WHERE e.transaction_id >= (SELECT MIN(transaction_id) FROM credit_grant_entries)
          AND (g.total IS NULL OR g.total <> e.amount)
    """,
    "no grant was debited at or after its expiry, but by the expiry itself": """
        SELECT g.id FROM credit_grants g
        JOIN credit_grant_entries ge ON ge.grant_id = g.id AND ge.amount < 0
        JOIN credit_transactions t ON t.id = ge.transaction_id
        WHERE g.expires_at IS NOT NULL AND t.created_at >= g.expires_at AND t.kind <> 'expiry'
    """,
}
SAMPLE = 10
AUDIT_CHAIN = "every audit entry hashes its contents and the entry before it"


@dataclass
class LedgerReport:
    transactions: int = 0
    wallets: int = 0
    failures: dict[str, list[int]] = field(default_factory=dict)
    chain: ChainReport = field(default_factory=ChainReport)

    @property
    def ok(self) -> bool:
        return not self.failures


# A check kept by another domain (credits calls none): its name and offending ids, if any.
Check = Callable[[AsyncSession], Awaitable[dict[str, list[int]]]]


async def verify_ledger(session: AsyncSession, others: Sequence[Check] = ()) -> LedgerReport:
    """Run every check, and `others`, in one snapshot, so concurrent postings cannot fake
    a failure."""
    await read_in_one_snapshot(session)
    report = LedgerReport()
    report.transactions = int(
        await session.scalar(text("SELECT COUNT(*) FROM credit_transactions")) or 0
    )
    report.wallets = int(
        await session.scalar(text("SELECT COUNT(*) FROM credit_accounts WHERE kind = 'wallet'"))
        or 0
    )
    for name, query in CHECKS.items():
        offending = (await session.execute(text(query))).scalars().all()
        if offending:
            report.failures[name] = [int(row) for row in offending[:SAMPLE]]
    for check in (rollup_failures, *others):
        report.failures.update(await check(session))
    report.chain = await verify_chain(session)
    if report.chain.broken is not None:
        report.failures[AUDIT_CHAIN] = [report.chain.broken.id]
    return report
