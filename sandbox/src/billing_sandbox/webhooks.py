"""/v1/webhook_endpoints: endpoints that receive events, each with its own whsec_ secret."""

from __future__ import annotations

import secrets
from typing import Any

from localstripe.resources import StripeObject, store

from . import errors, pagination, routing
from .params import Params, as_bool, as_list, metadata, reject_unknown, required

_FIELDS = ("url", "enabled_events", "description", "metadata", "api_version", "connect")


class WebhookEndpoint(StripeObject):
    """A Stripe webhook endpoint; its secret is shown once, at creation, as Stripe does."""

    object = "webhook_endpoint"
    _id_prefix = "we_"

    def __init__(self, url: str, enabled_events: list[str]) -> None:
        super().__init__()
        self.url = url
        self.enabled_events = enabled_events
        self.api_version: str | None = None
        self.application = None
        self.description: str | None = None
        self.metadata: dict[str, str] = {}
        self.status = "enabled"
        self._secret = "whsec_" + secrets.token_urlsafe(24)


def _url(value: Any) -> str:
    if not str(value).startswith(("http://", "https://")):
        raise errors.invalid("Invalid URL: must be http or https.", "url")
    return str(value)


def _events(value: Any) -> list[str]:
    events = [str(e) for e in as_list(value, "enabled_events")]
    if not events:
        raise errors.missing("enabled_events")
    return events


def _endpoint(id: str) -> WebhookEndpoint:
    endpoint = store.get("webhook_endpoint:" + id)
    if endpoint is None:
        raise errors.no_such("webhook endpoint", id)
    return endpoint


def _apply(endpoint: WebhookEndpoint, data: Params) -> None:
    if "url" in data:
        endpoint.url = _url(data["url"])
    if "enabled_events" in data:
        endpoint.enabled_events = _events(data["enabled_events"])
    if "description" in data:
        endpoint.description = data["description"] or None
    if "metadata" in data:
        endpoint.metadata = metadata(data["metadata"], endpoint.metadata)
    if "disabled" in data:
        endpoint.status = "disabled" if as_bool(data["disabled"], "disabled") else "enabled"


@routing.api("POST", "/v1/webhook_endpoints")
def create(data: Params) -> dict[str, Any]:
    """Create an endpoint; the response alone carries `secret`."""
    reject_unknown(data, _FIELDS)
    endpoint = WebhookEndpoint(_url(required(data, "url")), _events(data.get("enabled_events")))
    _apply(endpoint, {k: v for k, v in data.items() if k not in ("url", "enabled_events")})
    endpoint.api_version = data.get("api_version")
    return {**endpoint._export(), "secret": endpoint._secret}


@routing.api("GET", "/v1/webhook_endpoints/{id}")
def retrieve(data: Params) -> WebhookEndpoint:
    """One endpoint, without its secret."""
    return _endpoint(data["id"])


@routing.api("POST", "/v1/webhook_endpoints/{id}")
def update(data: Params) -> WebhookEndpoint:
    """Change url, events, description, metadata or disable it."""
    endpoint = _endpoint(data.pop("id"))
    reject_unknown(data, ("url", "enabled_events", "description", "metadata", "disabled"))
    _apply(endpoint, data)
    return endpoint


@routing.api("DELETE", "/v1/webhook_endpoints/{id}")
def delete(data: Params) -> dict[str, Any]:
    """Delete an endpoint: it stops receiving events at once."""
    endpoint = _endpoint(data["id"])
    del store["webhook_endpoint:" + endpoint.id]
    return {"id": endpoint.id, "object": "webhook_endpoint", "deleted": True}


@routing.api("GET", "/v1/webhook_endpoints")
def list_all(data: Params) -> pagination.Page:
    """Endpoints, newest first."""
    reject_unknown(data, pagination.PAGE_PARAMS)
    return pagination.page("/v1/webhook_endpoints", pagination.stored("webhook_endpoint"), data)
