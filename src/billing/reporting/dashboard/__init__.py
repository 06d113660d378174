"""The admin dashboard: its SQL, the settled ledger days, a snapshot read, the route."""
