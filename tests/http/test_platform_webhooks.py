"""The OpenAPI document's `webhooks` section shows each message the platform receives,
and a message as the outbox writes it matches its documented shape."""

from __future__ import annotations

import json

import httpx

from billing.db.outbox import message
from billing.http.platform_webhooks import DATA, _message
from billing.payments.events import PaymentData, PaymentObject


async def test_every_message_type_is_documented_with_its_envelope(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    assert set(document["webhooks"]) == set(DATA)
    schemas = document["components"]["schemas"]
    for type_, operations in document["webhooks"].items():
        body = operations["post"]["requestBody"]["content"]["application/json"]["schema"]
        schema = schemas[body["$ref"].rsplit("/", 1)[1]]
        assert set(schema["required"]) == {"type", "timestamp", "data"}
        assert schema["properties"]["type"]["const"] == type_
        assert "webhook-id" in operations["post"]["description"]


def test_a_message_as_written_matches_its_documented_shape() -> None:
    data = PaymentData(
        user_id=7,
        payment=PaymentObject(
            id="pi_1", kind="topup", status="failed", amount=500, currency="usd", credits=0
        ),
    )
    fields = data.model_dump(mode="json", exclude={"user_id"})
    written = message("payment.failed", fields, 7)
    parsed = _message("payment.failed", PaymentData).model_validate_json(written.body)
    assert parsed.model_dump()["data"] == data.model_dump()
    assert json.loads(written.body)["type"] == "payment.failed"
