"""Bank debits, Stripe's delayed-notification methods: `sepa_debit` and `us_bank_account`.

Confirming a PaymentIntent with one leaves it `processing` (`charge.pending`,
`payment_intent.processing`); the bank answers later, as Stripe's test accounts dictate:
after the sandbox's `--async-payment-delay` seconds or, for a customer on a test clock,
at the clock's next advance. Then the charge succeeds or fails and the intent follows
(`payment_intent.succeeded`, or `payment_intent.payment_failed` back to
`requires_payment_method`). Whoever started the payment (Checkout) hears of it through
`on_settled`. A debit still pending when the sandbox stopped is settled after it starts.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localstripe.resources import Charge, PaymentIntent, PaymentMethod, fingerprint, store

from . import cards, charges, errors, events, pagination
from .params import Params, as_dict, required

TYPES = ("sepa_debit", "us_bank_account")
CURRENCY = {"sepa_debit": "eur", "us_bank_account": "usd"}


@dataclass(frozen=True)
class Answer:
    """What the bank says of a debit: paid (perhaps disputed at once), or why not."""

    failure: cards.Decline | None = None
    dispute: cards.Disputed = None


def _returned(code: str, message: str) -> Answer:
    return Answer(cards.Decline(code, None, message))


_INSUFFICIENT = _returned(
    "insufficient_funds", "The customer's account has insufficient funds to cover this payment."
)
# Stripe's test IBANs and US account numbers (routing number 110000000); others are paid.
ACCOUNTS: dict[str, Answer] = {
    "AT861904300235473202": _INSUFFICIENT,
    "DE62370400440532013001": _INSUFFICIENT,
    "IT60X0542811101000000123456": _INSUFFICIENT,
    "NL91ABNA0417164300": _INSUFFICIENT,
    "AT591904300235473203": Answer(dispute="needs_response"),
    "DE35370400440532013002": Answer(dispute="needs_response"),
    "000111111113": _returned("account_closed", "The customer's bank account has been closed."),
    "000111111116": _returned("no_account", "The customer's bank account could not be located."),
    "000222222227": _INSUFFICIENT,
    "000333333335": _returned(
        "debit_not_authorized",
        "The customer has notified their bank that this payment was unauthorized.",
    ),
}

# What a charge's `payment_method_details` repeats of the method.
_DETAILS = {
    "sepa_debit": ("bank_code", "branch_code", "country", "fingerprint", "last4"),
    "us_bank_account": (
        "account_holder_type",
        "account_type",
        "bank_name",
        "fingerprint",
        "last4",
        "routing_number",
    ),
}
_settled: list[Callable[[PaymentIntent], None]] = []
_timing = {"delay": 3.0}


def _iban(details: Params) -> str:
    iban = re.sub(r"\s", "", str(details.get("iban") or "")).upper()
    digits = "".join(str(int(c, 36)) for c in iban[4:] + iban[:4]) if iban.isalnum() else ""
    if not 15 <= len(iban) <= 34 or not iban[:2].isalpha() or int(digits or "0") % 97 != 1:
        raise errors.invalid("The IBAN you provided is invalid.", "sepa_debit[iban]")
    return iban


def _aba_ok(routing: str) -> bool:
    weights = (3, 7, 1) * 3
    return (
        len(routing) == 9
        and routing.isdigit()
        and (sum(int(d) * w for d, w in zip(routing, weights, strict=True)) % 10 == 0)
    )


def _sepa(details: Params) -> tuple[str, dict[str, Any]]:
    iban = _iban(details)
    return iban, {
        "bank_code": iban[4:9],
        "branch_code": iban[9:14],
        "country": iban[:2],
        "fingerprint": fingerprint(iban),
        "generated_from": {"charge": None, "setup_attempt": None},
        "last4": iban[-4:],
    }


def _us_bank(details: Params) -> tuple[str, dict[str, Any]]:
    routing = str(details.get("routing_number") or "")
    account = str(details.get("account_number") or "")
    if not _aba_ok(routing):
        raise errors.invalid("Invalid routing number.", "us_bank_account[routing_number]")
    if not account.isdigit() or not 4 <= len(account) <= 17:
        raise errors.invalid("Invalid account number.", "us_bank_account[account_number]")
    return account, {
        "account_holder_type": details.get("account_holder_type") or "individual",
        "account_type": details.get("account_type") or "checking",
        "bank_name": "STRIPE TEST BANK",
        "financial_connections_account": None,
        "fingerprint": fingerprint(routing + account),
        "last4": account[-4:],
        "networks": {"preferred": "ach", "supported": ["ach"]},
        "routing_number": routing,
        "status_details": {},
    }


def create_method(type: str, data: Params, billing: Params, meta: dict[str, str]) -> Any:
    """A bank-account PaymentMethod from Stripe's create parameters."""
    details = as_dict(required(data, type), type)
    account, view = (_sepa if type == "sepa_debit" else _us_bank)(details)
    pm = PaymentMethod(type="sepa_debit", sepa_debit={"iban": "AT611904300234573201"})
    pm.type = type
    pm.__dict__.pop("sepa_debit", None)
    setattr(pm, type, view)
    pm._account = account
    pm._charge_details = {**{key: view[key] for key in _DETAILS[type]}, "mandate": None}
    pm.billing_details = billing
    pm.metadata = meta
    return pm


def answer_for(pm: Any) -> Answer:
    """How the bank answers a debit of pm's account."""
    return ACCOUNTS.get(getattr(pm, "_account", ""), Answer())


def start(pi: PaymentIntent, pm: Any) -> None:
    """Debit pm for pi: the intent is `processing` until the bank answers."""
    if pi.currency != CURRENCY[pm.type]:
        raise errors.invalid(
            f"The currency provided ({pi.currency}) is invalid for {pm.type} payments,"
            f" which support {CURRENCY[pm.type]}.",
            "currency",
        )
    charge = charges.for_intent(pi)
    charge.status = "pending"
    events.emit("charge.pending", charge)
    events.emit("payment_intent.processing", pi)
    if _clock_of(pi) is None:
        _later(charge.id)


def _clock_of(pi: PaymentIntent) -> str | None:
    customer = store.get(f"customer:{pi.customer}") if pi.customer else None
    return getattr(customer, "test_clock", None)  # customers made by Checkout have none


def _later(charge_id: str) -> None:
    asyncio.get_running_loop().call_later(_timing["delay"], _settle_and_save, charge_id)


def _settle_and_save(charge_id: str) -> None:
    settle(store[f"charge:{charge_id}"])
    store.dump_to_disk()


def settle(charge: Charge) -> None:
    """The bank's answer to a pending debit."""
    if charge.status != "pending":
        return
    pi = store[f"payment_intent:{charge.payment_intent}"]
    failure = answer_for(store[f"payment_method:{charge.payment_method}"]).failure
    if failure is None:
        charge._trigger_payment(pi._on_success)
    else:
        charges.fail(charge, failure)
        pi._record_failure()
    for listener in _settled:
        listener(pi)


def settle_for_clock(clock_id: str) -> None:
    """At a test clock's advance, the bank answers its customers' pending debits."""
    for charge in _pending():
        pi = store[f"payment_intent:{charge.payment_intent}"]
        if _clock_of(pi) == clock_id:
            settle(charge)


def _pending() -> list[Charge]:
    return [c for c in pagination.stored("charge") if c.status == "pending" and c.payment_intent]


def on_settled(listener: Callable[[PaymentIntent], None]) -> None:
    """Call listener with each intent whose debit the bank has answered."""
    _settled.append(listener)


def run(delay: float) -> None:
    """Answer debits `delay` seconds after they start; pick up those a restart left."""
    _timing["delay"] = delay
    for charge in _pending():
        if _clock_of(store[f"payment_intent:{charge.payment_intent}"]) is None:
            _later(charge.id)


def install() -> None:
    """Charges settle synchronously once the bank has answered (localstripe would wait)."""
    Charge._is_async_payment_method = lambda self: False
