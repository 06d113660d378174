"""Stripe's test cards: which succeed, which decline (and how), which need 3D Secure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Auth = Literal["never", "once", "always"]
# The dispute a successful charge on the card opens: a chargeback, or an inquiry.
Disputed = Literal["needs_response", "warning_needs_response"] | None


@dataclass(frozen=True)
class Decline:
    """How a charge on the card fails, in Stripe's words."""

    code: str
    decline_code: str | None
    message: str


GENERIC = Decline("card_declined", "generic_decline", "Your card was declined.")
INSUFFICIENT = Decline("card_declined", "insufficient_funds", "Your card has insufficient funds.")
INCORRECT_NUMBER = Decline("incorrect_number", None, "Your card number is incorrect.")


@dataclass(frozen=True)
class TestCard:
    """What a test card number does when used."""

    decline: Decline | None = None
    auth: Auth = "never"
    dispute: Disputed = None


CARDS: dict[str, TestCard] = {
    "4000000000000002": TestCard(GENERIC),
    "4000000000009995": TestCard(INSUFFICIENT),
    "4000000000009987": TestCard(Decline("card_declined", "lost_card", GENERIC.message)),
    "4000000000009979": TestCard(Decline("card_declined", "stolen_card", GENERIC.message)),
    "4000000000000069": TestCard(Decline("expired_card", None, "Your card has expired.")),
    "4000000000000127": TestCard(
        Decline("incorrect_cvc", None, "Your card's security code is incorrect.")
    ),
    "4000000000000119": TestCard(
        Decline(
            "processing_error",
            None,
            "An error occurred while processing your card. Try again in a little bit.",
        )
    ),
    "4000000000000341": TestCard(GENERIC),
    "4000002500003155": TestCard(auth="once"),
    "4000000000003220": TestCard(auth="once"),
    "4000002760003184": TestCard(auth="always"),
    "4000000000003063": TestCard(auth="always"),
    "4000008260003178": TestCard(INSUFFICIENT, auth="always"),
    "4000000000000259": TestCard(dispute="needs_response"),
    "4000000000001976": TestCard(dispute="warning_needs_response"),
}

# The `pm_card_*` ids Stripe accepts in test mode, and the numbers behind them.
TEST_PAYMENT_METHODS: dict[str, str] = {
    "pm_card_visa": "4242424242424242",
    "pm_card_us": "4242424242424242",
    "pm_card_visa_debit": "4000056655665556",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_amex": "378282246310005",
    "pm_card_discover": "6011111111111117",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_visa_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
    "pm_card_chargeCustomerFail": "4000000000000341",
    "pm_card_authenticationRequiredOnSetup": "4000002500003155",
    "pm_card_authenticationRequiredSetupForOffSession": "4000002500003155",
    "pm_card_threeDSecure2Required": "4000000000003220",
    "pm_card_authenticationRequired": "4000002760003184",
    "pm_card_authenticationRequiredChargeDeclinedInsufficientFunds": "4000008260003178",
    "pm_card_createDispute": "4000000000000259",
    "pm_card_createDisputeInquiry": "4000000000001976",
}

_BRANDS = (("34", "amex"), ("37", "amex"), ("5", "mastercard"), ("6011", "discover"))


def card_for(number: str) -> TestCard:
    """The behaviour of a card number; unknown valid numbers succeed like 4242."""
    return CARDS.get(number, TestCard())


def brand(number: str) -> str:
    """Card brand from the number's prefix."""
    return next((name for prefix, name in _BRANDS if number.startswith(prefix)), "visa")


def luhn_ok(number: str) -> bool:
    """Whether the number passes the Luhn check (4242424242424241 does not)."""
    digits = [int(d) for d in reversed(number)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0
