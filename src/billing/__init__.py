"""Billing service: Stripe payments and a prepaid credit ledger for SaaS platforms."""

__version__ = "0.1.0"
