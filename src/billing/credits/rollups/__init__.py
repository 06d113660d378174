"""Closed-day summaries of the ledger, for reading long ranges without reading every row.

Invariants (checked by `billing verify-ledger`):
- `credit_day_totals` holds, for every UTC day up to its rollup's `through`, the credits
  each transaction kind moved that day (and the promotional part of the expiries).
- `credit_spend_windows` holds, for each window of N days ending on its rollup's
  `through`, every user's credits spent in it; users who spent nothing have no row.

A day is summarized only once it is settled (`last_settled_day`): ledger rows are
immutable and stamped as they are written, so a settled day's totals never change again.
Readers take the summaries up to `through` and the ledger itself after it, so a rollup
that is behind (or was never built) costs time, never correctness.
"""
