"""Summaries and the admin dashboard, read from the ledger and the local mirrors."""
