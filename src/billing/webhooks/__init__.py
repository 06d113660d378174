"""Stripe webhooks: verified on receipt, stored in an inbox, processed exactly once."""
