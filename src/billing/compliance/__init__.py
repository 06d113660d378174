"""Compliance: audit log, personal data (encrypted), export, erasure and retention."""
