"""Webhooks to the platform: endpoints, their signatures, and where they may point."""
