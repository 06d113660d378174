"""Compliance: personal data (encrypted), export, erasure, retention, and the audit route."""
