"""Talking to Stripe: the SDK client, readers for both API shapes, paging."""
