"""Products and prices mirrored from Stripe, with the credits each grants."""
