"""What `billing verify-ledger` checks of the payments domain beside the ledger: the sums
its triggers keep, against the rows they sum."""

from __future__ import annotations

from billing.payments import day_totals, plan_totals

SUMMARY_CHECKS = (day_totals.failures, plan_totals.failures)
