"""Observability: metrics, logs with redaction, and alerts; imports only core."""
