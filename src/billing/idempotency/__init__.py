"""Idempotency-Key for every mutating route: the key store and the route wrapper."""
