"""/v1/subscriptions: create, retrieve, update (prorations), cancel, list."""

from __future__ import annotations

from typing import Any

from localstripe.resources import Customer, InvoiceItem, PaymentIntent, store

from . import errors, events, pagination, payment_methods, periods, prices, routing
from .params import Params, as_bool, as_dict, as_int, as_list, metadata, reject_unknown, required
from .subscriptions import (
    TIMES,
    ItemSpec,
    Subscription,
    SubscriptionItem,
    bill,
    cancel_now,
    discard,
    now_for,
    payment_method_for,
    updated,
)

_COMMON = (
    "metadata",
    "default_payment_method",
    "cancel_at_period_end",
    "cancel_at",
    "description",
    "collection_method",
    "days_until_due",
    "payment_settings",
    "proration_behavior",
    "payment_behavior",
    "off_session",
    "trial_end",
    "cancellation_details",
    "automatic_tax",
    "default_source",
)
_CREATE = (*_COMMON, "customer", "items", "trial_period_days", "trial_from_plan", "currency")
_UPDATE = (*_COMMON, "items", "proration_date", "trial_from_plan")
_STATUSES = (
    "all",
    "incomplete",
    "incomplete_expired",
    "trialing",
    "active",
    "past_due",
    "unpaid",
    "canceled",
    "paused",
)


def _price_of(entry: Params, position: int) -> prices.Price:
    if entry.get("price_data"):
        data = as_dict(entry["price_data"], f"items[{position}][price_data]")
        price = prices.build(data)
        price.active = False
        return price
    id = entry.get("price") or entry.get("plan")
    if not id:
        raise errors.missing(f"items[{position}][price]")
    price = prices.retrieve(str(id), f"items[{position}][price]")
    if price.type != "recurring":
        raise errors.invalid(
            "The price specified is set to `type=one_time` but this field"
            " only accepts prices with `type=recurring`.",
            f"items[{position}][price]",
        )
    return price


def _spec(entry: Params, position: int) -> ItemSpec:
    return ItemSpec(
        _price_of(entry, position),
        as_int(entry.get("quantity", 1), f"items[{position}][quantity]"),
        metadata(entry.get("metadata")),
    )


def _check_mix(specs: list[ItemSpec]) -> None:
    first = specs[0].price
    for spec in specs[1:]:
        if spec.price.currency != first.currency or (spec.price.recurring or {}).get(
            "interval"
        ) != (first.recurring or {}).get("interval"):
            raise errors.invalid(
                "All prices on a subscription must have the same currency and recurring interval.",
                "items",
            )


def _apply(sub: Subscription, data: Params, now: int) -> None:
    """Options shared by create and update."""
    if "metadata" in data:
        sub.metadata = metadata(data["metadata"], sub.metadata)
    if data.get("default_payment_method"):
        sub.default_payment_method = payment_methods.retrieve(
            str(data["default_payment_method"])
        ).id
    for name in ("description", "collection_method"):
        if name in data:
            setattr(sub, name, data[name] or None)
    if "days_until_due" in data:
        sub.days_until_due = as_int(data["days_until_due"], "days_until_due")
    settings = as_dict(data.get("payment_settings"), "payment_settings")
    if settings.get("save_default_payment_method"):
        sub.payment_settings["save_default_payment_method"] = settings[
            "save_default_payment_method"
        ]
    if "cancellation_details" in data:
        sub.cancellation_details.update(as_dict(data["cancellation_details"], ""))
    if "cancel_at_period_end" in data:
        ending = as_bool(data["cancel_at_period_end"], "cancel_at_period_end")
        sub.cancel_at_period_end = ending
        sub.cancel_at = sub._period[1] if ending else None
        sub.canceled_at = now if ending else None
    if data.get("cancel_at") not in (None,):
        sub.cancel_at = as_int(data["cancel_at"], "cancel_at") if data["cancel_at"] else None


def _trial_end(data: Params, specs: list[ItemSpec], now: int) -> int | None:
    if data.get("trial_end") == "now":
        return None
    if data.get("trial_end"):
        return as_int(data["trial_end"], "trial_end")
    days = data.get("trial_period_days")
    if days in (None, "") and as_bool(data.get("trial_from_plan", False), "trial_from_plan"):
        days = (specs[0].price.recurring or {}).get("trial_period_days")
    return now + as_int(days, "trial_period_days") * 86400 if days else None


def _first_payment(sub: Subscription, behavior: str) -> None:
    invoice = store["invoice:" + sub.latest_invoice]
    if invoice.status != "open":
        return
    method = payment_method_for(sub)
    if behavior == "default_incomplete":
        invoice.open_intent(method)
        return
    if method is None:
        raise errors.invalid(
            "This customer has no attached payment source or default payment"
            " method. Please consider adding a default payment method."
        )
    invoice.pay(method, off_session=False)
    if sub.status == "incomplete" and behavior == "error_if_incomplete":
        error = PaymentIntent._api_retrieve(invoice.payment_intent).last_payment_error or {}
        raise payment_methods.card_error(
            payment_methods.cards.Decline(
                error.get("code") or "card_declined",
                error.get("decline_code"),
                error.get("message") or "Your card was declined.",
            )
        )


def start(data: Params) -> Subscription:
    """Create a subscription and bill (or trial) its first period."""
    customer = Customer._api_retrieve(str(required(data, "customer")))
    specs = [_spec(entry, i) for i, entry in enumerate(as_list(required(data, "items"), "items"))]
    _check_mix(specs)
    behavior = data.get("payment_behavior") or "allow_incomplete"
    now = periods.now_for(customer.id)
    with events.atomic():
        sub = Subscription(customer.id, specs, now)
        trial_end = _trial_end(data, specs, now)
        if trial_end and trial_end > now:
            sub.status, sub.trial_start, sub.trial_end = "trialing", now, trial_end
            sub._period = (now, trial_end)
            sub.billing_cycle_anchor = trial_end
        else:
            sub.start_period(now)
        _apply(sub, data, now)
        sub._creating = True
        created = events.emit("customer.subscription.created", sub)
        bill(sub, "subscription_create", created=now, trial=sub.status == "trialing")
        try:
            _first_payment(sub, behavior)
        except errors.StripeError:
            discard(sub)
            raise
        sub._creating = False
        created.data["object"] = sub._export()
    return sub


def _retrieve(id: str) -> Subscription:
    sub = store.get("subscription:" + id)
    if sub is None:
        raise errors.no_such("subscription", id)
    return sub


def _prorate(
    sub: Subscription, price: prices.Price, quantity: int, sign: int, now: int, what: str
) -> None:
    start, end = sub._period
    share = periods.fraction_left(start, end, now)
    amount = round(price.unit_amount * quantity * share) * sign
    if amount == 0:
        return
    name = store["product:" + price.product].name
    ii = InvoiceItem(
        amount=amount,
        currency=sub.currency,
        customer=sub.customer,
        proration=True,
        subscription=sub.id,
        period_start=now,
        period_end=end,
        description=f"{what} {quantity} {TIMES} {name} after {periods.day(now)}",
    )
    ii._price = price.id


def _changes(item: SubscriptionItem, entry: Params) -> bool:
    price = entry.get("price")
    quantity = entry.get("quantity")
    return (
        bool(entry.get("price_data"))
        or (price is not None and price != item.price.id)
        or (quantity is not None and int(quantity) != item.quantity)
    )


def _change_items(sub: Subscription, entries: list[Any], now: int, prorate: bool) -> None:
    for position, entry in enumerate(entries):
        entry = as_dict(entry, f"items[{position}]")
        item = store.get("subscription_item:" + str(entry.get("id"))) if entry.get("id") else None
        if entry.get("id") and (item is None or item.subscription != sub.id):
            raise errors.no_such("subscription item", str(entry["id"]), f"items[{position}][id]")
        deleting = as_bool(entry.get("deleted", False), "deleted")
        moving = prorate and (item is None or deleting or _changes(item, entry))
        if item is not None and moving:
            _prorate(sub, item.price, item.quantity, -1, now, "Unused time on")
        if item is not None and deleting:
            sub._item_ids.remove(item.id)
            del store["subscription_item:" + item.id]
            continue
        if item is None:
            item = SubscriptionItem(sub.id, _spec(entry, position), now)
            sub._item_ids.append(item.id)
        else:
            if entry.get("price") or entry.get("price_data"):
                item.price = _price_of(entry, position)
            item.quantity = as_int(entry.get("quantity", item.quantity), "quantity")
            item.metadata = metadata(entry.get("metadata"), item.metadata)
        if moving:
            _prorate(sub, item.price, item.quantity, 1, now, "Remaining time on")
    if not sub._item_ids:
        raise errors.invalid("A subscription must have at least one active plan.", "items")
    _check_mix([ItemSpec(i.price) for i in sub.item_list()])


def change(sub: Subscription, data: Params) -> Subscription:
    """Update a subscription; a price change prorates as proration_behavior says."""
    now = now_for(sub)
    before = sub._export()
    behavior = data.get("proration_behavior") or "create_prorations"
    restarted = False
    with events.atomic():
        _apply(sub, data, now)
        if data.get("trial_end") == "now" and sub.status == "trialing":
            sub.status, sub.trial_end = "active", now
            sub.start_period(now)
            behavior, restarted = "always_invoice", True
        if data.get("items"):
            old_interval = sub.recurring()
            prorate = behavior != "none" and sub.status != "trialing"
            _change_items(sub, as_list(data["items"], "items"), now, prorate)
            if sub.recurring() != old_interval:
                sub.start_period(now)
                behavior, restarted = "always_invoice", True
        updated(sub, before)
        if behavior == "always_invoice" and sub.status != "trialing":
            invoice = bill(sub, "subscription_update", created=now, items=restarted)
            invoice.pay(payment_method_for(sub), off_session=False)
    return sub


@routing.api("POST", "/v1/subscriptions")
def create(data: Params) -> Subscription:
    """Create a subscription."""
    reject_unknown(data, _CREATE)
    return start(data)


@routing.api("POST", "/v1/customers/{customer}/subscriptions")
def create_for_customer(data: Params) -> Subscription:
    """The older path for creating a subscription."""
    reject_unknown(data, _CREATE)
    return start(data)


@routing.api("GET", "/v1/subscriptions/{id}")
def retrieve(data: Params) -> Subscription:
    """Retrieve a subscription."""
    return _retrieve(data["id"])


@routing.api("POST", "/v1/subscriptions/{id}")
def update(data: Params) -> Subscription:
    """Update a subscription."""
    sub = _retrieve(data.pop("id"))
    reject_unknown(data, _UPDATE)
    return change(sub, data)


@routing.api("DELETE", "/v1/subscriptions/{id}")
def cancel(data: Params) -> Subscription:
    """Cancel a subscription now."""
    sub = _retrieve(data.pop("id"))
    reject_unknown(data, ("invoice_now", "prorate", "cancellation_details"))
    if sub.status == "canceled":
        raise errors.invalid(f"No such subscription: '{sub.id}'; it is already canceled.")
    sub.cancellation_details.update(as_dict(data.get("cancellation_details"), ""))
    sub.cancellation_details["reason"] = "cancellation_requested"
    cancel_now(sub, now_for(sub))
    return sub


@routing.api("GET", "/v1/subscription_items")
def list_items(data: Params) -> pagination.Page:
    """A subscription's items."""
    reject_unknown(data, (*pagination.PAGE_PARAMS, "subscription"))
    sub = _retrieve(str(required(data, "subscription")))
    return pagination.page("/v1/subscription_items", sub.item_list()[::-1], data)


@routing.api("GET", "/v1/subscriptions")
def list_all(data: Params) -> pagination.Page:
    """Subscriptions newest first; canceled ones only when asked for."""
    reject_unknown(
        data,
        (*pagination.PAGE_PARAMS, "customer", "price", "status", "test_clock", "collection_method"),
    )
    status = data.get("status")
    if status and status not in _STATUSES:
        raise errors.invalid(f"Invalid status: {status}", "status")
    items = [s for s in pagination.stored("subscription") if isinstance(s, Subscription)]
    if status != "all":
        items = [
            s
            for s in items
            if s.status == status
            or (not status and s.status not in ("canceled", "incomplete_expired"))
        ]
    for name in ("customer", "test_clock", "collection_method"):
        if data.get(name):
            items = [s for s in items if getattr(s, name) == data[name]]
    if data.get("price"):
        items = [s for s in items if any(i.price.id == data["price"] for i in s.item_list())]
    return pagination.page("/v1/subscriptions", items, data)
