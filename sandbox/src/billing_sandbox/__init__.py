"""Stripe sandbox: localstripe extended into an offline Stripe (GPL-3.0-or-later)."""
