"""The admin API's shapes for webhook endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from billing.outbound.addresses import MAX_URL_LENGTH
from billing.outbound.events import EVENT_TYPES

DeliveryStatus = Literal["pending", "delivered", "failed"]


class CreateEndpointRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH)]
    events: Annotated[
        list[str],
        Field(
            min_length=1,
            max_length=len(EVENT_TYPES),
            description='Event types to send, or ["*"] for every one',
        ),
    ]
    description: Annotated[str, Field(max_length=500)] | None = None


class Endpoint(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read from a WebhookEndpoint row

    id: int
    url: str
    description: str | None
    events: list[str]
    created_at: datetime
    previous_secret_until: datetime | None = Field(
        description="Until then the secret rotated out signs too; null when none does"
    )


class EndpointWithSecret(Endpoint):
    secret: str = Field(description="The signing secret (whsec_...): shown this once only")


class EndpointList(BaseModel):
    data: list[Endpoint]


class Delivery(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read from a DeliveryView

    id: int
    endpoint_id: int
    message_id: str = Field(description="The message's `webhook-id`, the same on every retry")
    type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="When it is tried next, if pending")
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryPage(BaseModel):
    data: list[Delivery] = Field(description="Newest first")
    has_more: bool
    next_cursor: str | None
