"""The prepaid credit ledger: wallets, immutable double-entry transactions, balance routes."""
