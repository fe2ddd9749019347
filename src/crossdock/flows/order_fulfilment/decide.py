"""The pure decisions of the order flow: ``decide(state, event, context) -> Decision``.

No I/O here: everything looked up (availability, links, the resolved customer) arrives in the
`OrderContext`, gathered by the flow before the decision. The instance state is plain JSON:

- ``status``: a state of `MACHINE`; ``history``: every transition taken, with its trigger;
- ``order``: the latest accepted canonical order (order.v1 JSON, its ``id`` the hub id);
- ``channel``: the channel system; ``warehouse``: the chosen warehouse once released;
- ``ids``: each system's id of the order (from result events);
- ``short``: SKUs whose stock was short at validation (``{sku: missing units}``);
- ``shipments``: each shipment seen (key -> carrier, tracking, lines, status);
- ``failures``: commands that became dead letters; ``edits``: edits applied or rejected;
- ``crm_sent``: the CRM has been given the order (so a cancellation must tell it too).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from pydantic import ValidationError

from crossdock.backbone.store import JSONObject
from crossdock.canonical.commands import COMMAND_FAILED
from crossdock.canonical.customer import Customer
from crossdock.canonical.envelope import Event
from crossdock.canonical.order import Order, OrderTotalsMismatch, parse_order
from crossdock.canonical.shipment import Shipment
from crossdock.flows.engine import Decision, FlowCommand, FlowEvent, FlowRejected, LinkRequest
from crossdock.flows.order_fulfilment.machine import (
    GATE_SOURCES,
    MACHINE,
    POST_RELEASE,
    PRE_RELEASE,
)
from crossdock.flows.order_fulfilment.settings import OrderFulfilmentSettings

__all__ = [
    "EMAIL_LINK",
    "FLOW_NAME",
    "NUMBER_LINK",
    "ORDER_EVENTS",
    "RESULT_EVENTS",
    "SHIPMENT_EVENTS",
    "OrderContext",
    "decide",
    "derived_id",
    "shipment_key",
    "total_of",
    "tracking_link",
]

FLOW_NAME: Final = "order_fulfilment"
ORDER_EVENTS: Final = frozenset({"order.placed", "order.updated", "order.cancelled"})
SHIPMENT_EVENTS: Final = frozenset({"shipment.created", "shipment.updated"})
RESULT_EVENTS: Final = frozenset(
    {
        "erp.customer.upserted",
        "erp.sales_order.created",
        "erp.sales_order.updated",
        "erp.sales_order.closed",
        "erp.fulfillment.recorded",
        "erp.invoice.created",
        "crm.customer.upserted",
        "crm.order.created",
        "crm.order.status_updated",
        "crm.case.opened",
        "warehouse.order.released",
        "warehouse.order.cancelled",
        "channel.fulfillment.created",
        "channel.order.refunded",
        "channel.order.cancelled",
        "tracking.shipment.tracked",
        COMMAND_FAILED,
    }
)
EMAIL_LINK: Final = "email"
"""The links system under which a customer's lower-case e-mail maps to its hub customer id."""
NUMBER_LINK: Final = "order_number"
"""The links system under which an order's number maps to its hub id."""
_PAID: Final = frozenset({"paid"})
_FAILED_PAYMENT: Final = frozenset({"voided", "refunded"})
_SHOPIFY: Final = "shopify"
_IDS = uuid.UUID("3e7d1c2a-6b4f-5a90-8c1e-2f4a6b8d0c13")
_EXTERNAL_ID_FIELDS: Final = (
    "netsuite_id",
    "bc_order_id",
    "id",
    "order_id",
    "case_id",
    "tracker_id",
)
_NUMBER_FIELDS: Final = ("tran_id", "number", "order_number")


def derived_id(*parts: str) -> str:
    """A hub id derived from stable parts (a customer's e-mail, an order's shipment)."""
    return str(uuid.uuid5(_IDS, "|".join(parts)))


@dataclass(frozen=True, slots=True)
class OrderContext:
    """What a decision knows beyond its state and event (gathered before it, read-only).

    Attributes:
        key: The hub id of the order (the instance key the event was routed to).
        settings: The flow's settings.
        availability: Available units per SKU of the order (None: the SKU is unknown).
        customer_id: The hub id of the order's customer, when resolved by links.
        links: This order's id in each system (system name -> external id).
    """

    key: str
    settings: OrderFulfilmentSettings
    availability: Mapping[str, int | None] = field(default_factory=dict)
    customer_id: str | None = None
    links: Mapping[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# A small builder that collects what one decision writes
# --------------------------------------------------------------------------------------------


class _Step:
    def __init__(self, state: JSONObject, event: Event, key: str, ctx: OrderContext) -> None:
        self.state = state
        self.event = event
        self.key = key
        self.ctx = ctx
        self.commands: list[FlowCommand] = []
        self.events: list[FlowEvent] = []
        self.links: list[LinkRequest] = []

    @property
    def status(self) -> str:
        return str(self.state["status"])

    def move(self, target: str, trigger: str) -> None:
        source = self.status
        if source == target:
            return
        MACHINE.check(source, target)
        self.state["status"] = target
        self.state["history"].append(
            {"from": source, "to": target, "trigger": trigger, "event": self.event.id}
        )

    def command(self, step: str, destination: str, kind: str, payload: JSONObject) -> None:
        body = {**payload, "instance": {"flow": FLOW_NAME, "key": self.key}}
        self.commands.append(FlowCommand(step, destination, kind, body))

    def emit(self, step: str, type_: str, data: JSONObject) -> None:
        self.events.append(FlowEvent(step, type_, {"order_id": self.key, **data}))

    def decision(self) -> Decision:
        return Decision(self.state, tuple(self.commands), tuple(self.events), tuple(self.links))


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def decide(state: JSONObject | None, event: Event, ctx: OrderContext) -> Decision:
    """Return the order instance's next state and what to write after `event`.

    Raises:
        FlowRejected: The event does not fit this order (for example an update before the
            order was placed, or data that is not a valid order).
    """
    if state is None:
        if event.type != "order.placed":
            raise FlowRejected(f"{event.type} for an order the flow has not seen placed")
        return _placed(event, ctx)
    step = _Step(copy.deepcopy(state), event, ctx.key, ctx)
    if event.type == "order.placed":
        return step.decision()  # a second placement of a known order: nothing new
    if event.type == "order.updated":
        _updated(step, _order_of(event, step.key))
    elif event.type == "order.cancelled":
        _cancelled(step, _order_of(event, step.key))
    elif event.type in SHIPMENT_EVENTS:
        _shipment(step, _shipment_of(event))
    elif event.type in RESULT_EVENTS:
        _result(step)
    elif event.type == "invoice.paid":
        _invoice_paid(step)
    else:
        raise FlowRejected(f"the order flow does not take {event.type}")
    return step.decision()


# --------------------------------------------------------------------------------------------
# Placement and validation
# --------------------------------------------------------------------------------------------


def _order_of(event: Event, key: str) -> Order:
    data = dict(event.data)
    data["id"] = key
    try:
        return parse_order(data)
    except OrderTotalsMismatch as exc:
        raise FlowRejected(f"order totals do not add up: {exc}") from exc
    except ValidationError as exc:
        raise FlowRejected(f"not a valid order.v1: {exc.error_count()} errors: {exc}") from exc


def _order_json(order: Order) -> JSONObject:
    return order.model_dump(mode="json")


def _placed(event: Event, ctx: OrderContext) -> Decision:
    key = ctx.key
    order = _order_of(event, key)
    channel = ctx.settings.channel_system(order.channel) or ctx.settings.channel_system(
        event.source
    )
    if channel is None:
        raise FlowRejected(
            f"order {order.ref} comes from {order.channel!r} ({event.source}), "
            "which is not a configured channel of the order flow"
        )
    state: JSONObject = {
        "order_id": key,
        "status": MACHINE.initial,
        "history": [],
        "order": _order_json(order),
        "channel": channel,
        "customer_id": ctx.customer_id,
        "ids": {},
        "short": {},
        "shipments": {},
        "failures": [],
        "edits": [],
        "reason": None,
    }
    if event.subject and event.subject != key:
        state["ids"][channel] = event.subject
    step = _Step(state, event, key, ctx)
    if event.subject and event.subject != key:
        step.links.append(LinkRequest(key, channel, event.subject))
    step.links.append(LinkRequest(key, NUMBER_LINK, order.number))
    _validate(step, order, "order.placed")
    return step.decision()


def _problems(order: Order, ctx: OrderContext) -> tuple[str | None, str | None, dict[str, int]]:
    """Return (quarantine reason, address problem, short SKUs) of an order."""
    wanted: dict[str, int] = {}
    for line in order.lines:
        if line.sku is not None and line.requires_shipping and not line.gift_card:
            wanted[line.sku] = wanted.get(line.sku, 0) + line.quantity
    unknown = sorted(sku for sku in wanted if ctx.availability.get(sku) is None)
    if unknown:
        return f"unknown SKU: {', '.join(unknown)}", None, {}
    customer = order.customer
    if customer is not None and customer.kind == "business" and ctx.customer_id is None:
        who = customer.account_name or customer.name or customer.email or "?"
        return f"unmapped customer: business account {who!r} has no hub customer link", None, {}
    short = {
        sku: qty - int(ctx.availability[sku] or 0)
        for sku, qty in sorted(wanted.items())
        if int(ctx.availability[sku] or 0) < qty
    }
    return None, _address_problem(order) if wanted else None, short


def _address_problem(order: Order) -> str | None:
    address = order.shipping_address
    if address is None:
        return "no shipping address"
    missing = [name for name in ("line1", "city", "country_code") if not getattr(address, name)]
    return f"shipping address lacks {', '.join(missing)}" if missing else None


def _validate(step: _Step, order: Order, trigger: str) -> None:
    quarantine, address, short = _problems(order, step.ctx)
    step.state["short"] = short
    if quarantine is not None:
        step.state["reason"] = quarantine
        step.move("quarantined", trigger)
        step.emit("quarantined", "order.quarantined", {"reason": quarantine})
        return
    if address is not None:
        step.state["reason"] = address
        step.move("invalid_address", trigger)
        step.emit("invalid_address", "order.invalid_address", {"reason": address})
        _open_case(step, "invalid_address", f"Order {order.ref}: invalid address", address)
        return
    step.state["reason"] = None
    step.move("validated", trigger)
    customer_id = step.ctx.customer_id
    if customer_id is None:
        customer = _new_customer(order, step.key)
        customer_id = str(customer["id"])
        step.state["customer"] = customer
        erp = step.ctx.settings.erp
        step.command("customer:erp", erp, "customer.upsert", {"customer": customer})
        if customer.get("email"):
            step.links.append(LinkRequest(customer_id, EMAIL_LINK, str(customer["email"])))
    step.state["customer_id"] = customer_id
    step.state["order"]["customer"] = {
        **(step.state["order"].get("customer") or {}),
        "id": customer_id,
    }
    step.command(
        "sales_order.create",
        step.ctx.settings.erp,
        "sales_order.create",
        {"order": step.state["order"], "order_id": step.key, "customer_id": customer_id},
    )


def _new_customer(order: Order, key: str) -> JSONObject:
    """The consumer record the flow creates for an order whose customer is not linked yet."""
    ref = order.customer
    email = (ref.email if ref and ref.email else order.email or "").strip().lower() or None
    address = order.billing_address or order.shipping_address
    first = address.first_name if address else None
    last = address.last_name if address else None
    if last is None and address is not None and address.name:
        first, _, last = address.name.rpartition(" ")
        first = first or None
    customer = Customer(
        id=derived_id("customer", email) if email else derived_id("customer-of-order", key),
        kind="consumer",
        email=email,
        phone=order.phone,
        first_name=first,
        last_name=last or (ref.name if ref else None),
        currency=order.currency,
    )
    return customer.model_dump(mode="json", exclude_none=True)


def _open_case(step: _Step, reason: str, subject: str, description: str) -> None:
    crm = step.ctx.settings.crm
    if crm is None:
        return
    payload: JSONObject = {
        "exception_id": f"{step.key}:{reason}",
        "subject": subject,
        "description": description,
    }
    account = _account(step)
    if account is not None:
        payload["account"] = account
    step.command(f"case:{reason}", crm, "case.open", payload)


def _account(step: _Step) -> JSONObject | None:
    customer_id = step.state.get("customer_id")
    if not customer_id:
        return None
    return {"field": step.ctx.settings.crm_account_field, "value": customer_id}


def _crm_order_key(step: _Step) -> str:
    channel_id = _channel_order_id(step)
    return str(channel_id) if channel_id is not None else step.key


# --------------------------------------------------------------------------------------------
# Results of commands
# --------------------------------------------------------------------------------------------


def _result(step: _Step) -> None:
    event = step.event
    data = event.data
    result = data.get("result") if isinstance(data.get("result"), Mapping) else {}
    assert isinstance(result, Mapping)
    destination = str(data.get("destination", ""))
    if event.type == COMMAND_FAILED:
        failure = {
            "command": data.get("command"),
            "destination": destination,
            "idempotency_key": data.get("idempotency_key"),
            "reason": data.get("reason"),
        }
        step.state["failures"].append(failure)
        step.emit(
            f"failed:{data.get('idempotency_key')}",
            "order.command_failed",
            {"failure": failure, "status": step.status},
        )
        return
    external = _external_id(result)
    if event.type in ("erp.sales_order.created", "crm.order.created", "warehouse.order.released"):
        if external is not None:
            step.state["ids"][destination] = external
            step.links.append(LinkRequest(step.key, destination, external))
        number = next((result[n] for n in _NUMBER_FIELDS if result.get(n) is not None), None)
        if number is not None:
            step.state.setdefault("numbers", {})[destination] = str(number)
    if event.type == "erp.sales_order.created" and step.status == "validated":
        step.move("erp_order_created", event.type)
        _tell_crm(step, "erp")
        _gate(step, "crm_told" if step.ctx.settings.crm else event.type)
    elif event.type == "erp.invoice.created" and step.status == "delivered":
        if external is not None:
            step.state["ids"]["invoice"] = external
        step.move("invoiced", event.type)
        if _order(step).financial_status in _PAID:
            step.move("closed", "paid")
            _tell_crm(step, "closed")


def _external_id(result: Mapping[str, Any]) -> str | None:
    for name in _EXTERNAL_ID_FIELDS:
        value = result.get(name)
        if value is not None and not isinstance(value, bool):
            return str(value)
    return None


def _tell_crm(step: _Step, why: str, shipment: JSONObject | None = None) -> None:
    """Give the CRM the order the first time, then its status and shipments as they change."""
    settings = step.ctx.settings
    crm = settings.crm
    if crm is None:
        return
    if step.status == "erp_order_created":
        step.move("crm_told", "crm configured")
    account = _account(step)
    if not step.state.get("crm_sent"):
        step.state["crm_sent"] = True
        customer = step.state.get("customer")
        if customer is not None and account is not None:
            upsert: JSONObject = {"customer": customer, "key": account}
            step.command("crm:customer", crm, "customer.upsert", upsert)
        step.command(
            "crm:order",
            crm,
            "order.create",
            {"order": step.state["order"], "order_key": _crm_order_key(step), "account": account},
        )
        return
    payload: JSONObject = {"order_key": _crm_order_key(step)}
    status = settings.crm_statuses.get(step.status)
    if status is not None:
        payload["status"] = status
    if shipment is not None:
        payload["shipment"] = shipment
    if len(payload) > 1:
        step.command(f"crm:{why}", crm, "order.update_status", payload)


def _invoice_paid(step: _Step) -> None:
    if step.status == "invoiced":
        step.move("closed", "paid")
        _tell_crm(step, "closed")


# --------------------------------------------------------------------------------------------
# The release gate: payment, fraud, stock, then the warehouse
# --------------------------------------------------------------------------------------------


def _order(step: _Step) -> Order:
    return parse_order(step.state["order"])


def _gate(step: _Step, trigger: str) -> None:
    if step.status not in GATE_SOURCES:
        return
    order = _order(step)
    settings = step.ctx.settings
    status = order.financial_status
    on_invoice = any(p.method == "invoice" for p in order.payments)
    if status in _FAILED_PAYMENT:
        if step.status != "payment_failed":
            step.move("payment_failed", trigger)
            step.emit(f"payment_failed:{step.event.id}", "order.payment_failed", {"status": status})
            _open_case(step, "payment_failed", f"Order {order.ref}: payment {status}", str(status))
        return
    if not on_invoice and status not in settings.release_on:
        step.move("payment_held", trigger)
        return
    fraud = _fraud_reason(order, step.ctx)
    if fraud is not None:
        if step.status != "fraud_hold":
            step.state["reason"] = fraud
            step.move("fraud_hold", trigger)
            step.emit(f"fraud_hold:{step.event.id}", "order.fraud_hold", {"reason": fraud})
            _open_case(step, "fraud_hold", f"Order {order.ref}: fraud hold", fraud)
        return
    if step.state["short"]:
        if step.status != "backorder":
            missing = ", ".join(f"{sku} ×{n}" for sku, n in step.state["short"].items())
            step.state["reason"] = f"short: {missing}"
            step.move("backorder", trigger)
            step.emit(
                f"backorder:{step.event.id}",
                "order.backordered",
                {"short": step.state["short"], "rule": settings.backorder.value},
            )
            _open_case(step, "backorder", f"Order {order.ref}: backorder", f"short: {missing}")
        return
    _release(step, order, trigger)


def _fraud_reason(order: Order, ctx: OrderContext) -> str | None:
    rules = ctx.settings.fraud
    tags = {t.strip().lower() for t in order.tags}
    hit = sorted(tags & {t.lower() for t in rules.hold_tags})
    if hit:
        return f"tagged {', '.join(hit)}"
    total = order.totals.total.amount
    if rules.max_total is not None and total > rules.max_total:
        return f"total {total} {order.currency} above {rules.max_total}"
    billing = order.billing_address.country_code if order.billing_address else None
    shipping = order.shipping_address.country_code if order.shipping_address else None
    limit = rules.country_mismatch_above
    if limit is not None and billing and shipping and billing != shipping and total > limit:
        return f"billing country {billing} differs from shipping country {shipping}"
    return None


def _release(step: _Step, order: Order, trigger: str) -> None:
    country = order.shipping_address.country_code if order.shipping_address else None
    warehouse = step.ctx.settings.warehouse_for(country, str(step.state["channel"]))
    step.state["warehouse"] = warehouse
    step.state["reason"] = None
    step.move("released_to_warehouse", trigger)
    step.command(
        "release",
        warehouse,
        "order.release",
        {"order": step.state["order"], "order_key": step.key},
    )


# --------------------------------------------------------------------------------------------
# Edits and cancellations
# --------------------------------------------------------------------------------------------


def _lines(order_json: Mapping[str, Any]) -> list[tuple[str, str | None, int]]:
    return [(str(ln["line_id"]), ln.get("sku"), int(ln["quantity"])) for ln in order_json["lines"]]


def _updated(step: _Step, order: Order) -> None:
    if order.status == "cancelled":
        _cancelled(step, order)
        return
    previous = step.state["order"]
    new = _order_json(order)
    if _older(new, previous):
        return  # an out-of-order delivery of an earlier state of the order: already superseded
    status = step.status
    if status in ("received", "invalid_address", "quarantined"):
        step.state["order"] = new
        _validate(step, order, "order.updated")
        return
    if status in ("cancelled", "cancelled_after_release"):
        return
    lines_changed = _lines(previous) != _lines(new)
    address_changed = previous.get("shipping_address") != new.get("shipping_address")
    released = status not in PRE_RELEASE
    rejected = []
    if lines_changed:
        rejected.append("quantities or lines changed after the ERP order")
    if address_changed and released:
        rejected.append("shipping address changed after release")
    if rejected:
        reason = "; ".join(rejected)
        step.state["edits"].append(
            {"event": step.event.id, "outcome": "rejected", "reason": reason}
        )
        step.emit(f"edit_rejected:{step.event.id}", "order.edit_rejected", {"reason": reason})
        new["lines"] = previous["lines"]
        new["totals"] = previous["totals"]
        new["shipping_lines"] = previous.get("shipping_lines", [])
        new["order_tax_lines"] = previous.get("order_tax_lines", [])
        new["order_discounts"] = previous.get("order_discounts", [])
        if released:
            new["shipping_address"] = previous.get("shipping_address")
    elif address_changed:
        step.state["edits"].append({"event": step.event.id, "outcome": "applied"})
        step.command(
            f"edit:{step.event.id}:erp",
            step.ctx.settings.erp,
            "sales_order.update",
            {"order_id": step.key, "changes": {"shipping_address": new.get("shipping_address")}},
        )
    step.state["order"] = new
    if status == "invoiced" and order.financial_status in _PAID:
        step.move("closed", "paid")
        _tell_crm(step, "closed")
    if status == "backorder":
        step.state["short"] = _problems(parse_order(new), step.ctx)[2]
    if status in GATE_SOURCES:
        _gate(step, "order.updated")


def _older(new: Mapping[str, Any], previous: Mapping[str, Any]) -> bool:
    """True when `new` is an earlier state of the order than `previous` (by ``updated_at``)."""
    ours, theirs = new.get("updated_at"), previous.get("updated_at")
    if not ours or not theirs:
        return False
    return datetime.fromisoformat(str(ours)) < datetime.fromisoformat(str(theirs))


def _cancelled(step: _Step, order: Order) -> None:
    status = step.status
    if status in ("cancelled", "cancelled_after_release"):
        return
    reason = order.cancellation.reason if order.cancellation else "other"
    step.state["order"] = _order_json(order)
    if status in PRE_RELEASE:
        erp_asked = status not in ("received", "invalid_address", "quarantined")
        step.move("cancelled", step.event.type)
        if erp_asked:
            _close_erp(step, reason)
        if step.state.get("crm_sent"):
            _tell_crm(step, "cancelled")
        _refund_in_channel(step, order)
        return
    if status not in POST_RELEASE:
        why = f"cancellation after {status} cannot be compensated by the flow; a return is needed"
        step.emit(f"cancel_rejected:{step.event.id}", "order.cancel_rejected", {"reason": why})
        return
    step.move("cancelled_after_release", step.event.type)
    step.command(
        "cancel:warehouse",
        str(step.state["warehouse"]),
        "order.cancel",
        {"order_key": step.key, "order_number": order.number},
    )
    _close_erp(step, reason)
    _refund_in_channel(step, order)
    _tell_crm(step, "cancelled")
    _open_case(
        step,
        "cancelled_after_release",
        f"Order {order.ref}: cancelled after release",
        f"Cancelled ({reason}) after release to {step.state['warehouse']}: the warehouse order "
        "is being cancelled, the ERP order closed and the payment refunded.",
    )


def _close_erp(step: _Step, reason: str) -> None:
    step.command(
        "cancel:erp",
        step.ctx.settings.erp,
        "sales_order.close",
        {"order_id": step.key, "reason": reason},
    )


def _channel_order_id(step: _Step) -> int | None:
    channel = str(step.state["channel"])
    external = step.ctx.links.get(channel) or step.state["ids"].get(channel)
    if external is None:
        return None
    tail = str(external).rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _refund_in_channel(step: _Step, order: Order) -> None:
    channel = str(step.state["channel"])
    if step.ctx.settings.channels.get(channel) != _SHOPIFY:
        return
    if order.financial_status not in ("paid", "partially_paid", "partially_refunded"):
        return
    order_id = _channel_order_id(step)
    if order_id is None:
        step.emit("refund_unknown_id", "order.exception", {"reason": "no channel order id"})
        return
    items = [
        {"line_item_id": int(line.line_id), "quantity": line.quantity, "restock_type": "cancel"}
        for line in order.lines
        if line.line_id.isdigit()
    ]
    step.command(
        "cancel:refund",
        channel,
        "order.refund",
        {"order_id": order_id, "refund_line_items": items, "notify": True},
    )


# --------------------------------------------------------------------------------------------
# Shipments
# --------------------------------------------------------------------------------------------


def _shipment_of(event: Event) -> Shipment:
    try:
        return Shipment.model_validate(event.data)
    except ValidationError as exc:
        raise FlowRejected(f"not a valid shipment.v1: {exc}") from exc


def tracking_link(carrier: str, tracking_number: str) -> str:
    """The links system of one tracking number (carrier and number: an order has several)."""
    return f"tracking:{carrier.lower()}:{tracking_number}"


def shipment_key(shipment: Shipment) -> str:
    """The key of a shipment within its order: tracking number, else id, else carrier."""
    return shipment.tracking_number or shipment.id or f"{shipment.carrier}:{shipment.shipped_at}"


def _shipment(step: _Step, shipment: Shipment) -> None:
    if step.status not in (*POST_RELEASE, "shipped", "delivered", "invoiced", "closed"):
        step.emit(
            f"early_shipment:{step.event.id}",
            "order.exception",
            {"reason": f"shipment while the order is {step.status}"},
        )
        return
    skey = shipment_key(shipment)
    known = step.state["shipments"].get(skey)
    lines = _shipment_lines(step, shipment)
    if known is None:
        step.state["shipments"][skey] = {
            "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number,
            "tracking_url": shipment.tracking_url,
            "lines": lines,
            "status": shipment.status,
        }
        if shipment.tracking_number:
            step.links.append(
                LinkRequest(
                    step.key,
                    tracking_link(shipment.carrier, shipment.tracking_number),
                    shipment.tracking_number,
                )
            )
        _record_shipment(step, skey, shipment, lines)
    else:
        known["status"] = shipment.status
    before = step.status
    if shipment.status in ("return_to_sender", "failure", "error"):
        step.emit(
            f"shipment_problem:{skey}:{shipment.status}",
            "order.exception",
            {"reason": f"shipment {skey} is {shipment.status}"},
        )
    _progress(step, before)
    if known is None:
        details = {
            k: v
            for k, v in (
                ("tracking_number", shipment.tracking_number),
                ("carrier", shipment.carrier),
                ("shipped_at", shipment.shipped_at.isoformat() if shipment.shipped_at else None),
            )
            if v is not None
        }
        _tell_crm(step, f"shipment:{skey}", details)


def _shipment_lines(step: _Step, shipment: Shipment) -> list[JSONObject]:
    order = step.state["order"]
    by_sku = {ln.get("sku"): str(ln["line_id"]) for ln in order["lines"] if ln.get("sku")}
    if not shipment.lines:
        shipped = _shipped_units(step)
        return [
            {"line_id": lid, "sku": sku, "quantity": qty - shipped.get(lid, 0)}
            for lid, sku, qty in _shippable(order)
            if qty - shipped.get(lid, 0) > 0
        ]
    return [
        {
            "line_id": line.line_id or by_sku.get(line.sku),
            "sku": line.sku,
            "quantity": line.quantity,
        }
        for line in shipment.lines
    ]


def _shippable(order: Mapping[str, Any]) -> list[tuple[str, str | None, int]]:
    return [
        (str(ln["line_id"]), ln.get("sku"), int(ln["quantity"]))
        for ln in order["lines"]
        if ln.get("requires_shipping", True) and not ln.get("gift_card", False)
    ]


def _shipped_units(step: _Step) -> dict[str, int]:
    shipped: dict[str, int] = {}
    for s in step.state["shipments"].values():
        for line in s["lines"]:
            if line.get("line_id"):
                shipped[line["line_id"]] = shipped.get(line["line_id"], 0) + int(line["quantity"])
    return shipped


def _record_shipment(step: _Step, skey: str, shipment: Shipment, lines: list[JSONObject]) -> None:
    settings = step.ctx.settings
    record = shipment.model_dump(mode="json", exclude_none=True)
    record["id"] = shipment.id or derived_id("shipment", step.key, skey)
    record["order"] = {"id": step.key, "number": step.state["order"]["number"]}
    record["lines"] = [{k: v for k, v in line.items() if v is not None} for line in lines]
    step.command(
        f"shipment:{skey}:erp",
        settings.erp,
        "fulfillment.record",
        {"shipment": record, "order_id": step.key},
    )
    channel = str(step.state["channel"])
    order_id = _channel_order_id(step)
    if settings.channels.get(channel) == _SHOPIFY and order_id is not None:
        entry: JSONObject = {
            "tracking_number": shipment.tracking_number,
            "company": shipment.carrier,
        }
        if shipment.tracking_url:
            entry["url"] = shipment.tracking_url
        if lines and all(str(ln.get("line_id") or "").isdigit() for ln in lines):
            entry["lines"] = [
                {"line_item_id": int(ln["line_id"]), "quantity": int(ln["quantity"])}
                for ln in lines
            ]
        step.command(
            f"shipment:{skey}:channel",
            channel,
            "fulfillment.create",
            {"order_id": order_id, "shipments": [entry], "notify_customer": True},
        )
    tracking = settings.tracking
    tracked_already = step.event.source.split(":", 1)[0] == tracking
    if tracking is not None and shipment.tracking_number and not tracked_already:
        step.command(
            f"shipment:{skey}:track",
            tracking,
            "shipment.track",
            {"tracking_code": shipment.tracking_number, "carrier": shipment.carrier},
        )


def _progress(step: _Step, before: str) -> None:
    shipped = _shipped_units(step)
    shippable = _shippable(step.state["order"])
    trigger = step.event.type
    if step.status in POST_RELEASE:
        if all(shipped.get(lid, 0) >= qty for lid, _, qty in shippable):
            step.move("shipped", trigger)
        elif shipped:
            step.move("partially_shipped", trigger)
    shipments = step.state["shipments"].values()
    if (
        step.status == "shipped"
        and shipments
        and all(s["status"] == "delivered" for s in shipments)
    ):
        step.move("delivered", trigger)
        if before != "delivered":
            _tell_crm(step, "delivered")
        step.command(
            "invoice",
            step.ctx.settings.erp,
            "invoice.create",
            {"order_id": step.key, "invoice_id": derived_id("invoice", step.key)},
        )


def total_of(state: Mapping[str, Any]) -> Decimal:
    """The order total of an instance state (for read models and tests)."""
    return Decimal(str(state["order"]["totals"]["total"]["amount"]))
