"""payment_intent.* events: only the payment form's top-ups are credited here, from the
intent's server-set metadata; failures are recorded and never undo a success."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support.event_shapes import NEW, SHAPES, event, new_id, payment_intent
from tests.support.handler_harness import Harness, redelivered

SUCCEEDED = "payment_intent.succeeded"
FAILED = "payment_intent.payment_failed"
DECLINE = {
    "type": "card_error",
    "code": "card_declined",
    "decline_code": "insufficient_funds",
    "message": "Your card has insufficient funds.",
}


def _topup(
    version: str, user_id: int, credits: str = "1200", purpose: str = "topup", **fields: object
) -> dict[str, Any]:
    return payment_intent(
        version,
        amount=1200,
        metadata={
            "billing_purpose": purpose,
            "billing_user_id": str(user_id),
            "billing_credits": credits,
        },
        **fields,
    )


@pytest.mark.parametrize("version", SHAPES)
async def test_a_topup_is_credited_once_from_its_metadata(harness: Harness, version: str) -> None:
    charge = new_id("ch")
    intent = _topup(version, 8001, status="succeeded", amount_received=1200, latest_charge=charge)
    body = event(version, SUCCEEDED, intent)
    await harness.run(body, body, redelivered(body))

    assert await harness.balance(8001) == 1200
    assert await harness.ledger() == [("purchase", 1200, f"stripe:payment_intent:{intent['id']}")]
    payment = await harness.payment(intent["id"])
    assert (payment.kind, payment.status, payment.user_id) == ("topup", "succeeded", 8001)
    assert (payment.amount, payment.credits, payment.charge_id) == (1200, 1200, charge)
    assert await harness.messages("payment.") == [  # once, whatever the redeliveries
        (
            "payment.succeeded",
            {
                "user_id": 8001,
                "payment": {
                    "id": intent["id"],
                    "kind": "topup",
                    "status": "succeeded",
                    "amount": 1200,
                    "currency": "usd",
                    "credits": 1200,
                    "failure_code": None,
                    "failure_message": None,
                },
            },
        )
    ]
    [(told, granted)] = await harness.messages("credits.")  # the posting's own, once too
    assert (told, granted["grant"]["source"], granted["grant"]["reference"]) == (
        "credits.granted",
        "topup",
        intent["id"],
    )
    assert (granted["grant"]["amount"], granted["balance"]) == (1200, 1200)
    await harness.verify()


@pytest.mark.parametrize("purpose", ["topup", "auto_topup"])
async def test_a_topups_credits_open_a_grant_of_its_purpose(harness: Harness, purpose: str) -> None:
    """The payment form's top-up and the worker's automatic one: each grant says which."""
    intent = _topup(NEW, 8005, purpose=purpose, status="succeeded", amount_received=1200)
    await harness.run(event(NEW, SUCCEEDED, intent))
    [grant] = await harness.grants(8005)
    assert (grant.source, grant.amount, grant.priority, grant.expires_at) == (
        purpose,
        1200,
        50,
        None,
    )
    assert grant.reference == intent["id"]
    assert (await harness.payment(intent["id"])).kind == "topup"
    await harness.verify()


@pytest.mark.parametrize("version", SHAPES)
async def test_other_payment_intents_credit_nothing(harness: Harness, version: str) -> None:
    # A checkout's payment intent: user metadata, no top-up purpose. Its session credits it.
    checkout_intent = payment_intent(
        version, amount=500, status="succeeded", metadata={"billing_user_id": "8002"}
    )
    await harness.run(event(version, SUCCEEDED, checkout_intent))
    assert await harness.statuses() == ["processed"]
    assert (await harness.ledger(), await harness.payments()) == ([], [])


@pytest.mark.parametrize("version", SHAPES)
async def test_a_failure_then_a_success_ends_succeeded(harness: Harness, version: str) -> None:
    failed = _topup(version, 8003, status="requires_payment_method", last_payment_error=DECLINE)
    await harness.run(event(version, FAILED, failed, created=int(time.time()) - 60))
    payment = await harness.payment(failed["id"])
    assert (payment.status, payment.failure_code) == ("failed", "insufficient_funds")
    assert payment.failure_message == DECLINE["message"]
    assert await harness.balance(8003) == 0

    succeeded = {**failed, "status": "succeeded", "last_payment_error": None}
    await harness.run(event(version, SUCCEEDED, succeeded))
    payment = await harness.payment(failed["id"])
    assert (payment.status, payment.failure_code, payment.credits) == ("succeeded", None, 1200)
    assert await harness.balance(8003) == 1200
    # A failure reported late (out of order) does not undo the success.
    await harness.run(event(version, FAILED, failed))
    assert (await harness.payment(failed["id"])).status == "succeeded"
    assert len(await harness.payments()) == 1
    told = [
        (kind, data["payment"]["failure_code"]) for kind, data in await harness.messages("payment.")
    ]
    assert told == [("payment.failed", "insufficient_funds"), ("payment.succeeded", None)]
    await harness.verify()


@pytest.mark.parametrize("version", SHAPES)
async def test_a_topup_with_broken_metadata_is_retried_not_guessed(
    harness: Harness, version: str
) -> None:
    intent = _topup(version, 8004, credits="12.5", status="succeeded")
    await harness.run(event(version, SUCCEEDED, intent), retry_failed=False)
    [stored] = await harness.events()
    assert stored.status == "failed"
    assert stored.last_error is not None
    assert "ValidationProblem" in stored.last_error
    assert (await harness.ledger(), await harness.payments()) == ([], [])
