"""Schemathesis over the service's own OpenAPI document: every operation, as every kind of
caller, with Stripe calls going to the sandbox. No answer may be a 5xx, every error must be
problem+json with a string `code`, and every answer must match the documented schema.

Bounded and reproducible: a fixed number of derandomized examples per operation and role.
The admin, whose requests reach every handler, also gets schemathesis' boundary values
(its coverage phase) and runs on PostgreSQL too; the other callers, whose requests mostly
stop at 401 or 403, get fewer examples, on SQLite.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import Case, CheckContext, GenerationMode, HookContext, Response
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    positive_data_acceptance,
    unsupported_method,
)

from billing.core.config import Settings
from billing.core.ids import MAX_USER_ID
from billing.db.engine import Database
from billing.http.app import create_app
from billing.http.problems import PROBLEM_MEDIA_TYPE
from tests.conftest import Credentials
from tests.http.test_problem_docs import openapi_document
from tests.support.payments import one_time_price, recurring_price
from tests.support.sandbox_process import Sandbox

ADMIN_EXAMPLES = 10
OTHER_EXAMPLES = 5
FUZZ_USER = 42
ALLOWED_URL = "https://app.example.com/back"  # a host `stripe_settings` allows
# Stand-ins the steering below writes, replaced by the sandbox's price ids before sending.
PRICE_STAND_INS = ("fuzz_one_time_price", "fuzz_recurring_price")

# The document does not depend on settings; each test sends its cases to an app of its own.
DOCUMENT = openapi_document()
admin_schema = schemathesis.openapi.from_dict(DOCUMENT)
no_coverage = schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": False}}})
schema = schemathesis.openapi.from_dict(DOCUMENT, config=no_coverage)


def fuzz_settings(max_examples: int) -> Callable[[Any], Any]:
    """Reproducible in CI: derandomized, no example database, no deadline."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


@pytest.fixture
async def credentials(
    role: str, stripe_settings: Settings, stripe_database: Database
) -> dict[str, str]:
    """The headers of `role`; the user is `FUZZ_USER`."""
    creds = Credentials(stripe_settings, stripe_database)
    if role == "user":
        return creds.bearer(FUZZ_USER)
    if role == "service":
        return await creds.api_key("service")
    if role == "admin":
        return creds.admin()
    return {}


@pytest.fixture(scope="module")
def sandbox_prices(stripe_sandbox: Sandbox) -> dict[str, str]:
    """Real prices for the steered cases: one-time and recurring, granting credits."""
    prices = (one_time_price(stripe_sandbox.client), recurring_price(stripe_sandbox.client))
    return dict(zip(PRICE_STAND_INS, (str(price.id) for price in prices), strict=True))


@pytest.fixture
def fuzz_client(stripe_settings: Settings) -> Iterator[asgi.ASGIClient]:
    """The app on the sandbox, without the embedded worker, run by schemathesis (lifespan
    included, ended by its plugin after each test). The lifespan tunes the garbage
    collector for a server: undone for the tests that follow."""
    threshold = gc.get_threshold()
    app = create_app(stripe_settings.model_copy(update={"BILLING_RUN_WORKER": False}))
    with asgi.get_client(app) as client:
        yield client
    gc.unfreeze()
    gc.set_threshold(*threshold)


def flatmap_case(context: HookContext, case: Case) -> st.SearchStrategy[Case]:
    """Half the valid cases get values the service takes (its currency, an allowed
    redirect host, a real price), so that they get past validation to Stripe."""
    if case.meta is not None and case.meta.generation.mode is GenerationMode.NEGATIVE:
        return st.just(case)
    return st.one_of(st.just(case), st.builds(steer, st.just(case), steered_values()))


admin_schema.hook(flatmap_case)
schema.hook(flatmap_case)


def steered_values() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "currency": st.just("usd"),
            "amount": st.integers(100, 10_000),
            "price_id": st.sampled_from(PRICE_STAND_INS),
            "success_url": st.just(ALLOWED_URL),
            "cancel_url": st.just(ALLOWED_URL),
            "return_url": st.just(ALLOWED_URL),
        }
    )


def steer(case: Case, values: dict[str, Any]) -> Case:
    for fields in (case.query, case.body):
        if isinstance(fields, dict):
            fields.update({name: value for name, value in values.items() if name in fields})
    return case


def with_real_prices(case: Case, prices: dict[str, str]) -> None:
    price = case.body.get("price_id") if isinstance(case.body, dict) else None
    if isinstance(price, str) and price in prices:
        case.body["price_id"] = prices[price]


def act_as(case: Case, user_id: int) -> None:
    """Point every valid user id of the request at the caller, so a user's own calls get
    past 403; invalid ones stay, as they are the point of a negative case."""
    for fields in (case.path_parameters, case.query, case.body):
        if isinstance(fields, dict) and valid_user_id(fields.get("user_id")):
            fields["user_id"] = user_id


def valid_user_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_USER_ID


def shares_its_paths(path: str) -> bool:
    """Whether another template matches the same URLs (`/subscriptions/{user_id}` and
    `/subscriptions/{subscription_id}`): a method undocumented for one is the other's,
    which schemathesis' method checks, reading one template, call a mistake."""
    shape = re.sub(r"\{[^}]+\}", "{}", path)
    return sum(re.sub(r"\{[^}]+\}", "{}", other) == shape for other in DOCUMENT["paths"]) > 1


@schemathesis.check
def problem_details(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every error is problem+json with a string `code`, whatever the document says."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith(PROBLEM_MEDIA_TYPE), f"an error as {content_type!r}"
    body = response.json()
    assert isinstance(body, dict), "an error body that is not an object"
    assert isinstance(body.get("code"), str), "an error body without a string `code`"
    return True


def send(
    case: Case, role: str, headers: dict[str, str], client: asgi.ASGIClient, prices: dict[str, str]
) -> None:
    if role == "user":
        act_as(case, FUZZ_USER)
    with_real_prices(case, prices)
    excluded = [positive_data_acceptance]  # 401, 403 and 422 (unknown price, ...) are right
    if shares_its_paths(case.operation.path):
        excluded += [allow_header_conformance, unsupported_method]
    case.call_and_validate(
        base_url=client.base_url,
        session=client,
        headers=headers,
        additional_checks=[problem_details],
        excluded_checks=excluded,
    )


@pytest.mark.parametrize("role", ["admin"])
@admin_schema.parametrize()
@fuzz_settings(ADMIN_EXAMPLES)
def test_as_admin(
    case: Case,
    role: str,
    credentials: dict[str, str],
    fuzz_client: asgi.ASGIClient,
    sandbox_prices: dict[str, str],
) -> None:
    send(case, role, credentials, fuzz_client, sandbox_prices)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("role", ["anonymous", "user", "service"])
@schema.parametrize()
@fuzz_settings(OTHER_EXAMPLES)
def test_as_others(
    case: Case,
    role: str,
    credentials: dict[str, str],
    fuzz_client: asgi.ASGIClient,
    sandbox_prices: dict[str, str],
) -> None:
    send(case, role, credentials, fuzz_client, sandbox_prices)
