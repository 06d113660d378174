"""The payment routes' refusals: each a 422 with its own stable code.

They subclass `ValidationProblem` (a request that never started), so the
idempotency layer does not store them and a corrected retry may reuse its key.
"""

from __future__ import annotations

from billing.core.errors import ValidationProblem


class UnknownPrice(ValidationProblem):
    code, title = "unknown_price", "No such price"


class UnknownPaymentMethod(ValidationProblem):
    code, title = "unknown_payment_method", "No such payment method"


class PriceInactive(ValidationProblem):
    code, title = "price_inactive", "The price is not for sale"


class PriceModeMismatch(ValidationProblem):
    code, title = "price_mode_mismatch", "The price does not suit this kind of purchase"


class RedirectNotAllowed(ValidationProblem):
    code, title = "redirect_not_allowed", "The redirect URL is not allowed"


class AmountOutOfRange(ValidationProblem):
    code, title = "amount_out_of_range", "The amount is outside the allowed range"


class UnsupportedCurrency(ValidationProblem):
    code, title = "unsupported_currency", "The currency is not supported"


class PaymentMethodRequired(ValidationProblem):
    code, title = "payment_method_required", "A saved card is required"
