"""The audit log: append-only, hash-chained; imports only core and db."""
