"""Fast lanes compiled from the routes they serve (billing/http/fast_lanes.py).

A lane must answer as its route does, and keep doing so as the route changes, so it is
not written by hand: it is planned once, at startup, from what FastAPI solves on every
request, the route's `Dependant`. Path parameters are validated by the route's own
fields and the body by its own body field; the dependency functions are called as
declared, sub-dependencies first and each once per request (FastAPI's `use_cache`), in
FastAPI's order. Whatever the plan cannot do as FastAPI would (a query, header or cookie
parameter, a generator or sync dependency, security scopes, background tasks, a route
class with a handler of its own...) raises `UnsupportedRoute` as the app is built: a
dependency added to a laned route can never be skipped silently.

A lane passes on to the full route (returns None) what is not the plain case: a
dependency override, an idempotency key, a body that is not JSON, and any input that
fails validation (FastAPI's own 422 answers it). Validation comes before any dependency
runs, so a request passed on has run none of them: bar `IdempotentRoute`'s own first
step, authentication, which keeps its principal on the request for the full route.
"""

from __future__ import annotations

import inspect
import json
import operator
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import params
from fastapi._compat import ModelField, field_annotation_is_sequence
from fastapi._compat.v2 import asdict
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import _get_param_aliases, _get_param_model
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import ResponseValidationError
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from billing.auth.dependencies import authenticate
from billing.http.fast_lanes import Lane
from billing.idempotency.route import BODY_FIELD, HEADER, MUTATING_METHODS, IdempotentRoute

# A request's values, in one list: these slots first, then one per path parameter, body
# and dependency call. PRINCIPAL is `authenticate`'s, which an IdempotentRoute runs first.
REQUEST, RESPONSE, PRINCIPAL = 0, 1, 2

# orjson reads JSON as json.loads (FastAPI's parser) does, but rounds an integer beyond
# 64 bits to a float: a body with 19 digits in a row is read by json.loads as well.
_LONG_NUMBER = re.compile(rb"\d{19}")
NOT_JSON = object()
JSON, NO_BODY = "application/json", frozenset({204, 205, 304})

Arguments = tuple[tuple[str, int], ...]  # (keyword, slot of its value)
Positional = Callable[[list[Any]], tuple[Any, ...]]  # a call's arguments, from the slots
Validate = Callable[..., Any]  # a pydantic-core validator's `validate_python`
Answer = Callable[[Any, Response | None], Response]


class UnsupportedRoute(ValueError):
    """A route given a lane declares what the lane cannot resolve as FastAPI would."""


def route_lanes(
    routes: Sequence[BaseRoute], endpoints: Collection[Callable[..., Any]]
) -> list[tuple[APIRoute, Lane]]:
    """The lane of each endpoint's route, as the app serves it (with what `include_router`
    added); raises `UnsupportedRoute` for a route that cannot have one."""
    lanes = []
    for context in iter_route_contexts(routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.endpoint in endpoints:
            if context.path != route.path:  # the metrics label the lane's requests by it
                raise UnsupportedRoute(f"{route.path}: included under a prefix of its own")
            lanes.append((route, compile_lane(context)))
    if sorted(id(route.endpoint) for route, _ in lanes) != sorted(map(id, endpoints)):
        raise UnsupportedRoute("Every lane needs its endpoint's route, included once.")
    return lanes


@dataclass
class _Plan:
    """What a lane does per request, worked out once from a route's `Dependant`."""

    route: str
    size: int = PRINCIPAL + 1
    path_params: list[tuple[int, str, ModelField]] = field(default_factory=list)
    validators: list[tuple[int, str, Validate]] = field(default_factory=list)
    calls: list[tuple[int, Callable[..., Any], Positional]] = field(default_factory=list)
    solved: dict[Callable[..., Any], int] = field(default_factory=dict)  # FastAPI's cache
    aliases: Collection[str] = ()  # the path's parameters
    needs_response: bool = False

    def slot(self) -> int:
        self.size += 1
        return self.size - 1

    def refuse(self, what: str) -> UnsupportedRoute:
        return UnsupportedRoute(f"{self.route}: {what}; its lane cannot resolve that.")


def compile_lane(context: RouteContext) -> Lane:
    """The lane of one route, from the definition FastAPI serves it by."""
    dependant: Dependant = context.dependant
    methods: set[str] = context.methods or set()
    plan = _Plan(f"{sorted(methods)} {context.path}", aliases=context.param_convertors.keys())
    kind = type(context.original_route)
    if kind is not APIRoute and kind is not IdempotentRoute:
        raise plan.refuse(f"its route class {kind.__name__} has a handler of its own")
    if not isinstance(context.response_class, DefaultPlaceholder):
        raise plan.refuse("a response class of its own")
    bodies: list[ModelField] = dependant.body_params
    if len(bodies) > 1 or context._embed_body_fields:
        raise plan.refuse("more than one body parameter, or an embedded one")
    if bodies and isinstance(bodies[0].field_info, params.Form):
        raise plan.refuse("a form body")
    body = (bodies[0], plan.slot()) if bodies else None
    idempotent = kind is IdempotentRoute and bool(methods & MUTATING_METHODS)
    if idempotent and (body is None or not methods <= MUTATING_METHODS):
        raise plan.refuse("keyed requests that are not all JSON-bodied mutations")
    if idempotent:  # run_idempotently authenticates first: FastAPI's cache then has it
        plan.solved[authenticate] = PRINCIPAL
    endpoint = _call(plan, dependant)
    arguments = _arguments(plan, dependant, top=True)
    if body is not None:
        arguments += ((body[0].name, body[1]),)
    answer = _answer(plan, context)
    body_validator = (body[1], _validator(plan, body[0])) if body is not None else None
    call = _positional(endpoint, arguments)
    return _lane(plan, call, body_validator, idempotent, context, answer)


def _arguments(plan: _Plan, dependant: Dependant, *, top: bool = False) -> Arguments:
    """The keywords FastAPI's `solve_dependencies` calls `dependant` with, each from its
    slot; the calls of its sub-dependencies planned first, in the order it makes them."""
    refused = {
        "a query parameter": dependant.query_params,
        "a header parameter": dependant.header_params,
        "a cookie parameter": dependant.cookie_params,
        "a body parameter in a dependency": not top and dependant.body_params,
        "BackgroundTasks": dependant.background_tasks_param_name,
        "SecurityScopes": dependant.security_scopes_param_name,
        "security scopes": dependant.own_oauth_scopes,
        "a WebSocket": dependant.websocket_param_name,
        "a concurrency limit": dependant.concurrency,
        "a dependency scope": not top and dependant.scope,
    }
    for what, declared in refused.items():
        if declared:
            raise plan.refuse(f"{_name(dependant)} takes {what}")
    arguments: list[tuple[str, int]] = []
    for sub in dependant.dependencies:
        call = _call(plan, sub)
        sub_arguments = _arguments(plan, sub)  # solved even when `sub` itself is cached
        if sub.use_cache and call in plan.solved:
            slot = plan.solved[call]
        else:
            slot = plan.slot()
            plan.calls.append((slot, *_positional(call, sub_arguments)))
            plan.solved.setdefault(call, slot)
        if sub.name is not None:
            arguments.append((sub.name, slot))
    arguments += [(param.name, _path_param(plan, param)) for param in dependant.path_params]
    for name in (dependant.http_connection_param_name, dependant.request_param_name):
        if name is not None:
            arguments.append((name, REQUEST))
    if dependant.response_param_name is not None:
        plan.needs_response = True
        arguments.append((dependant.response_param_name, RESPONSE))
    return tuple(arguments)


def _path_param(plan: _Plan, param: ModelField) -> int:
    """A slot for a path parameter FastAPI validates by its field alone (not a model)."""
    if _get_param_model(param) is not None or field_annotation_is_sequence(
        param.field_info.annotation
    ):
        raise plan.refuse(f"path parameter {param.name} is a model or a sequence")
    ((_, alias),) = _get_param_aliases(param)
    if alias not in plan.aliases:
        raise plan.refuse(f"path parameter {alias} is not in the path")
    for slot, known_alias, known in plan.path_params:
        if known_alias == alias and _validated_alike(known, param):
            return slot  # the dependency's `user_id` and the endpoint's: validated once
    slot = plan.slot()
    plan.path_params.append((slot, alias, param))
    plan.validators.append((slot, alias, _validator(plan, param)))
    return slot


def _validated_alike(one: ModelField, other: ModelField) -> bool:
    """Whether FastAPI validates the two fields alike: it builds each one's validator from
    just these (`ModelField.__post_init__`)."""
    return (one.mode, one.config, asdict(one.field_info)) == (
        other.mode,
        other.config,
        asdict(other.field_info),
    )


def _validator(plan: _Plan, model_field: ModelField) -> Validate:
    """What `model_field.validate` calls, without its two wrappers (microseconds on the
    hottest path): `ModelField.validate` is this call with `from_attributes=True`, its
    errors reshaped for FastAPI's 422, which a lane passes on instead."""
    adapter = getattr(model_field, "_type_adapter", None)
    if not isinstance(adapter, TypeAdapter):
        raise plan.refuse(f"{model_field.name} is validated in a way unknown to the lane")
    validate: Validate = adapter.validator.validate_python
    return validate


def _call(plan: _Plan, dependant: Dependant) -> Callable[..., Any]:
    """The function FastAPI awaits for `dependant`: an `async def` one, not a generator
    (an exit stack), a sync function (a thread) or a class."""
    call = dependant.call
    if call is None or not inspect.iscoroutinefunction(call):
        raise plan.refuse(f"{_name(dependant)} is not an async def function")
    return call


def _positional(
    call: Callable[..., Any], arguments: Arguments
) -> tuple[Callable[..., Any], Positional]:
    """`call`, and what FastAPI passes it by keyword as arguments by position, in the
    signature's order: no dict to build per call. A call that cannot take them so gets
    them by keyword through a wrapper."""
    parameters = inspect.signature(call, follow_wrapped=False).parameters.values()
    by_name = dict(arguments)
    if set(by_name) == {p.name for p in parameters} and all(
        p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in parameters
    ):
        return call, _getter([by_name[p.name] for p in parameters])
    names = [name for name, _ in arguments]

    async def by_keyword(*values: Any) -> Any:
        return await call(**dict(zip(names, values, strict=True)))

    return by_keyword, _getter([slot for _, slot in arguments])


def _getter(slots: list[int]) -> Positional:
    if len(slots) > 1:
        return operator.itemgetter(*slots)
    if slots:
        slot = slots[0]
        return lambda values: (values[slot],)
    return lambda values: ()


def _name(dependant: Dependant) -> str:
    return getattr(dependant.call, "__qualname__", repr(dependant.call))


def _answer(plan: _Plan, context: RouteContext) -> Answer:
    """FastAPI's answer for what the endpoint returned (`get_request_handler`): a Response
    as it is; else the response model's JSON, with what the endpoint set on its
    `Response` parameter (status, headers)."""
    response_field: ModelField | None = context.response_field
    model = (response_field, _validator(plan, response_field)) if response_field else None
    status_code: int | None = context.status_code
    response_class: type[Response] = context.response_class.value
    options: dict[str, Any] = {
        "include": context.response_model_include,
        "exclude": context.response_model_exclude,
        "by_alias": context.response_model_by_alias,
        "exclude_unset": context.response_model_exclude_unset,
        "exclude_defaults": context.response_model_exclude_defaults,
        "exclude_none": context.response_model_exclude_none,
    }

    def answer(result: Any, sub_response: Response | None) -> Response:
        if isinstance(result, Response):
            return result
        status = sub_response.status_code if sub_response is not None else None
        if not status:  # the endpoint's own status first, then the route's (FastAPI's)
            status = status_code if status_code else status
        if model is None:
            arguments: dict[str, Any] = {} if status is None else {"status_code": status}
            response = response_class(jsonable_encoder(result), **arguments)
        else:
            model_field, validate = model
            try:
                value = validate(result, from_attributes=True)
            except ValidationError:  # FastAPI's error, from FastAPI's own call
                _, errors = model_field.validate(result, {}, loc=("response",))
                raise ResponseValidationError(errors, body=result) from None
            content = model_field.serialize_json(value, **options)
            response = Response(content, 200 if status is None else status, media_type=JSON)
        if response.status_code < 200 or response.status_code in NO_BODY:
            response.body = b""  # fastapi.utils.is_body_allowed_for_status_code
        if sub_response is not None:  # `headers.raw` of each, without making `headers`
            response.raw_headers.extend(sub_response.raw_headers)
        return response

    return answer


def _sub_response() -> Response:
    """The `Response` a parameter gets, as FastAPI makes it: no length, no status yet."""
    response = Response()
    response.raw_headers.clear()  # FastAPI deletes its content-length, the only one
    response.status_code = None  # type: ignore[assignment]
    return response


async def _json_body(request: Request) -> Any:
    """The body as FastAPI reads it for a JSON body parameter, or NOT_JSON for one it
    would read otherwise, or refuse."""
    content_type = request.headers.get("content-type", "")
    if content_type.partition(";")[0].strip().lower() != JSON:
        return NOT_JSON
    return read_json(await request.body())


def read_json(body: bytes) -> Any:
    """`json.loads(body)` as FastAPI reads it, faster; or NOT_JSON for what orjson
    refuses (which `run_idempotently` refuses too)."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return NOT_JSON
    return json.loads(body) if _LONG_NUMBER.search(body) else payload


def _keyed(payload: Any) -> bool:
    """Not for the lane of an IdempotentRoute: a body `run_idempotently` refuses (not a
    JSON object) or runs its own way (with an idempotency key)."""
    return not isinstance(payload, dict) or payload.get(BODY_FIELD) is not None


def _lane(
    plan: _Plan,
    endpoint: tuple[Callable[..., Any], Positional],
    body: tuple[int, Validate] | None,
    idempotent: bool,
    context: RouteContext,
    answer: Answer,
) -> Lane:
    size, needs_response = plan.size, plan.needs_response
    path_params, calls = tuple(plan.validators), tuple(plan.calls)
    overrides_provider = context.dependency_overrides_provider
    body_slot, validate_body = body if body is not None else (0, None)
    call_endpoint, endpoint_arguments = endpoint

    async def lane(request: Request, path: dict[str, Any]) -> Response | None:
        if overrides_provider is not None and overrides_provider.dependency_overrides:
            return None  # FastAPI calls the overrides instead
        values: list[Any] = [None] * size
        values[REQUEST] = request
        if idempotent:  # run_idempotently's steps, for a request without a key
            if HEADER in request.headers:
                return None
            values[PRINCIPAL] = await authenticate(request)
        if validate_body is not None:
            payload = await _json_body(request)
            if payload is NOT_JSON:
                return None
            if idempotent and _keyed(payload):
                return None
        try:
            if validate_body is not None:
                values[body_slot] = validate_body(payload, from_attributes=True)
            for slot, alias, validate in path_params:
                values[slot] = validate(path[alias], from_attributes=True)
        except ValidationError:
            return None
        if needs_response:
            values[RESPONSE] = _sub_response()
        for slot, call, arguments in calls:
            values[slot] = await call(*arguments(values))
        result = await call_endpoint(*endpoint_arguments(values))
        return answer(result, values[RESPONSE])

    return lane
