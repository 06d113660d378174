"""Payments on Stripe: customers, checkout, intents, subscriptions, portal, recorded payments."""
