"""The messages the service sends the platform, in the OpenAPI document's `webhooks`
section (so `openapi-typescript` types them for the frontend too): the envelope
`{type, timestamp, data}` of each type, its `data` as the producing domain defines it."""

from __future__ import annotations

import inspect
from datetime import datetime
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, create_model

from billing.credits.events import (
    DEPLETED,
    EXPIRED,
    GRANTED,
    HOLD_EXPIRED,
    LOW,
    DepletedData,
    ExpiredData,
    GrantedData,
    HoldExpiredData,
    LowData,
)
from billing.payments.auto_topup.events import (
    FAILED,
    LIMIT_REACHED,
    SUCCEEDED,
    LimitReachedData,
    TopupData,
)
from billing.payments.events import ClawedBackData, PaymentData, SubscriptionData

HEADERS = (
    "Signed by the Standard Webhooks convention: `webhook-id` (the same on every retry: "
    "dedupe on it), `webhook-timestamp`, `webhook-signature` (docs/webhooks.md)."
)
ANSWERS: dict[int | str, dict[str, Any]] = {
    "2XX": {"description": "Received: the delivery is done"},
    "default": {"description": "Anything else, or no answer in 10 s: retried with backoff"},
}
DATA: dict[str, tuple[type[BaseModel], str]] = {
    GRANTED: (GrantedData, "Credits entered a wallet: a purchase, a plan's, an admin's, ..."),
    LOW: (LowData, "A debit took the balance below the low-balance threshold."),
    DEPLETED: (DepletedData, "A debit left nothing to spend."),
    EXPIRED: (ExpiredData, "A grant expired: what it still held is gone."),
    HOLD_EXPIRED: (HoldExpiredData, "A hold reached its expiry unsettled: all of it is back."),
    "credits.clawed_back": (
        ClawedBackData,
        "Credits taken back for money that went back (a refund, a dispute, a downgrade).",
    ),
    "payment.succeeded": (PaymentData, "A payment succeeded: what it bought is credited."),
    "payment.failed": (PaymentData, "A payment attempt failed."),
    "subscription.created": (SubscriptionData, "A subscription started."),
    "subscription.updated": (SubscriptionData, "A subscription changed (plan, period, ...)."),
    "subscription.canceled": (SubscriptionData, "A subscription ended."),
    SUCCEEDED: (TopupData, "An auto top-up was paid: its credits are in."),
    FAILED: (TopupData, "An auto top-up failed: auto top-up is paused until saved again."),
    LIMIT_REACHED: (LimitReachedData, "An auto top-up was not made: the monthly limit."),
}


def _message(type_: str, data: type[BaseModel]) -> type[BaseModel]:
    name = "".join(part.capitalize() for part in type_.replace(".", "_").split("_"))
    fields: dict[str, Any] = {
        "type": (Literal[type_], ...),
        "timestamp": (datetime, ...),
        "data": (data, ...),
    }
    return create_model(f"{name}Message", **fields)


def document_platform_webhooks(app: FastAPI) -> None:
    for type_, (data, summary) in DATA.items():
        message = _message(type_, data)

        async def receiver(body: BaseModel) -> None:
            """The platform's endpoint receives this."""

        parameter = inspect.Parameter(
            "body", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=message
        )
        receiver.__signature__ = inspect.Signature([parameter])  # type: ignore[attr-defined]
        app.webhooks.add_api_route(
            type_,
            receiver,
            methods=["POST"],
            summary=summary,
            description=HEADERS,
            responses=ANSWERS,
        )
