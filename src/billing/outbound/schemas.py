"""The admin API's shapes for webhook endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from billing.outbound.addresses import MAX_URL_LENGTH
from billing.outbound.events import EVENT_TYPES


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
