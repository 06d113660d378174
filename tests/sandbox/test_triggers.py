"""Stripe's own `stripe trigger` recipes (tests/fixtures/stripe/triggers), replayed against
the sandbox as the Stripe CLI replays them against Stripe: each request in order, later
ones naming what earlier ones made (`${price:id}`); then the recipe's event must have been
sent about what it made."""

from __future__ import annotations

import contextlib
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import stripe

from tests.support.sandbox import wait_for

TRIGGERS = Path(__file__).resolve().parents[1] / "fixtures" / "stripe" / "triggers"
REFERENCE = re.compile(r"\$\{(\w+):([\w.]+)\}")


def resolve(value: Any, made: dict[str, Any]) -> Any:
    """`value` with each `${name:field.path}` replaced by what `name` made."""
    if isinstance(value, dict):
        return {key: resolve(item, made) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, made) for item in value]
    if not isinstance(value, str):
        return value

    def field(match: re.Match[str]) -> str:
        found: Any = made[match.group(1)]
        for part in match.group(2).split("."):
            found = found[part]
        return str(found)

    return REFERENCE.sub(field, value)


def replay(client: stripe.StripeClient, recipe: dict[str, Any]) -> dict[str, Any]:
    """Every request of the recipe, in order; what each made, by name."""
    made: dict[str, Any] = {}
    for step in recipe["fixtures"]:
        params = resolve(step.get("params", {}), made)
        try:
            response = client.raw_request(step["method"], resolve(step["path"], made), **params)
        except stripe.CardError as declined:  # a decline is a recipe's point: Stripe's error
            made[step["name"]] = declined.json_body  # names what it made, as here
            continue
        made[step["name"]] = client.deserialize(response, api_mode="V1").to_dict()
    return made


def strings(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(strings(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(strings(item) for item in value))
    return {value} if isinstance(value, str) else set()


def names(event: Any) -> set[str]:
    """What the event's object is, or belongs to."""
    found = event.data.object.to_dict()
    return {str(found.get(key)) for key in ("id", "payment_intent", "charge")}


def sent_about(client: stripe.StripeClient, made: set[str], since: int) -> set[str]:
    """The types of the events sent since `since` about anything in `made`."""
    listed = client.v1.events.list(params={"created": {"gte": since}, "limit": 100})
    return {event.type for event in listed.auto_paging_iter() if made & names(event)}


@pytest.mark.parametrize("recipe", sorted(TRIGGERS.glob("*.json")), ids=lambda path: path.stem)
def test_each_recipe_sends_its_event(client: stripe.StripeClient, recipe: Path) -> None:
    expected = recipe.stem
    since = int(time.time()) - 1
    made = strings(replay(client, json.loads(recipe.read_text())))
    with contextlib.suppress(AssertionError):  # a bank debit is answered a moment later
        wait_for(lambda: expected in sent_about(client, made, since), timeout=5)
    about = sent_about(client, made, since)
    assert expected in about, f"{recipe.name} made no {expected}; it made {sorted(about)}"
