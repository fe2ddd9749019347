"""The pure decisions of the order flow: ``decide(state, event, context) -> Decision``.

No I/O here: everything looked up (availability or the hub's reservation answer, links, the
resolved customer) arrives in the `OrderContext`, gathered by the flow before the decision.

Events and what they do:

- ``order.placed``; an ``order.updated`` or ``order.cancelled`` that arrives first (webhooks are
  reordered) is taken as the placement, since the channel's payload carries the whole order: an
  early cancellation ends in ``cancelled`` without asking anything of the ERP, an early update
  is validated like a placement; the late ``order.placed`` then changes nothing.
- Validation (SKUs, customer, address, stock), then the ERP sales order, the CRM, and the
  release gate (payment, fraud rules, stock) before the warehouse.
- Short stock at the gate follows the backorder rule (`BackorderRule`): ``hold`` waits in
  ``backorder`` until an ``order.stock_check`` (or ``order.updated``) finds every unit;
  ``split`` releases what is in stock as the first warehouse order and keeps the rest in
  ``partial_backorder`` until a stock check finds it all (released as part 2, key
  ``<key>-2``, number ``<number>-2``); ``cancel_line`` releases what is in stock and cancels
  the short units (channel refund, ERP close of the remainder once the released part is
  fulfilled, or at once when nothing is released, CRM status, Case). Every rule emits
  ``order.backordered`` and opens a Case.
- A shipment that says it is the final one of its warehouse order (``final``) with fewer
  units than were released is a short pick: the missing units become a backorder and the rule
  applies (``hold``/``split``: a new part when stock is found; ``cancel_line``: cancelled).
- A shipment is recorded in the ERP, the channel (each line capped at what the channel order
  still has open: a quantity edit after release is rejected, yet the channel lowered its
  order, so the excess becomes an ``order.exception`` and a Case instead of a command that
  must fail), the tracker and the CRM; the order is shipped when every part shipped.
- An ``order.updated`` after the ERP order was asked for: a new shipping address before
  release goes to the ERP (``sales_order.update`` ``{shipping_address}``). A change of lines
  (quantities changed, lines added or removed) is applied before release under the policy
  ``edit_quantities_until = "release"`` (`EditQuantitiesUntil`): stock is checked for the
  new quantities (every unit while the hub still holds them or the order waits for stock,
  else the units the edit adds), a shortfall follows the backorder rule at the gate, the ERP
  gets ``sales_order.update`` ``{lines: [{line_id, sku, quantity, unit_price?, title?}]}``
  (each SKU's new units, 0 = removed; one command per edit event) and the state keeps the new
  lines and totals. The CRM is not told (its connector takes no line changes). After release,
  under policy ``erp``, or when a line without SKU or a gift card changed, the edit is
  rejected (``order.edit_rejected``) and the hub keeps its lines.
- When the hub holds stock for orders (``OrderContext.reserves``), the decisions that end a
  hold ask for a ``reservation.release``: ERP sales order created or a part released after it
  (``committed``), an edit's added units once the ERP has them (``erp.sales_order.updated``:
  ``committed``), cancelled (``cancelled``), quarantined (``quarantined``).

The instance state is plain JSON:

- ``status``: a state of `MACHINE`; ``history``: every transition taken, with its trigger;
- ``order``: the latest accepted canonical order (order.v1 JSON, its ``id`` the hub id);
- ``channel``: the channel system; ``warehouse``: the chosen warehouse once released;
- ``ids``: each system's id of the order (from result events);
- ``short``: SKUs whose stock was short at the last check (``{sku: missing units}``);
- ``parts``: each warehouse order released (part number, order key and number, warehouse,
  ``lines`` ``{line_id: units}``, ``done``, ``short`` units of a short pick);
- ``pending``: units waiting for stock after a split or a short pick (``{line_id: units}``);
- ``cancelled_lines``: units cancelled by the ``cancel_line`` rule (``{line_id: units}``);
- ``channel_lines``: the channel order's latest quantities; ``channel_sent``: units already
  sent to the channel as fulfilments (both ``{line_id: units}``);
- ``held``: the hub holds stock for the order; ``close_due``: an ERP close of cancelled
  lines waits until the released parts are fulfilled;
- ``shipments``: each shipment seen (key -> carrier, tracking, lines, status, part);
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
from crossdock.canonical.order import (
    Order,
    OrderLine,
    OrderTotals,
    OrderTotalsMismatch,
    parse_order,
)
from crossdock.canonical.shipment import Shipment
from crossdock.canonical.totals import compute_totals
from crossdock.flows.engine import Decision, FlowCommand, FlowEvent, FlowRejected, LinkRequest
from crossdock.flows.order_fulfilment.machine import (
    GATE_SOURCES,
    MACHINE,
    POST_RELEASE,
    PRE_RELEASE,
)
from crossdock.flows.order_fulfilment.ports import RESERVATION_RELEASE, RESERVATIONS_DESTINATION
from crossdock.flows.order_fulfilment.settings import (
    BackorderRule,
    EditQuantitiesUntil,
    OrderFulfilmentSettings,
)

__all__ = [
    "EMAIL_LINK",
    "FLOW_NAME",
    "NUMBER_LINK",
    "ORDER_EVENTS",
    "RESULT_EVENTS",
    "SHIPMENT_EVENTS",
    "STOCK_CHECK",
    "OrderContext",
    "decide",
    "derived_id",
    "edit_refusal",
    "edit_units",
    "erp_line_changes",
    "part_key",
    "part_number_link",
    "quantity_edit_units",
    "shipment_key",
    "total_of",
    "tracking_link",
    "units_by_sku",
    "unreleased_units",
    "wanted_units",
]

FLOW_NAME: Final = "order_fulfilment"
ORDER_EVENTS: Final = frozenset({"order.placed", "order.updated", "order.cancelled"})
STOCK_CHECK: Final = "order.stock_check"
"""Appended by the hub's availability when stock arrives for a SKU a backordered order awaits
(data ``order_id``, subject the hub order id): the flow checks the waiting units again."""
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
BACKORDER_TAG: Final = "backordered"
"""The channel order's tag while units of it wait for stock (removed when they are released)."""
_REVALIDATING: Final = ("received", "invalid_address", "quarantined")
"""States in which an ``order.updated`` validates the order again, as a placement."""
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


def part_key(key: str, part: int) -> str:
    """The warehouse order key of one part of an order: the hub id, then ``<id>-<part>``."""
    return key if part == 1 else f"{key}-{part}"


def part_number_link(part: int) -> str:
    """The links system under which a later part's order number maps to the order's hub id."""
    return f"{NUMBER_LINK}:{part}"


def wanted_units(order_json: Mapping[str, Any]) -> dict[str, int]:
    """Units per SKU of an order's lines that need shipping and are not gift cards."""
    wanted: dict[str, int] = {}
    for line in order_json.get("lines") or []:
        sku = line.get("sku")
        if sku and line.get("requires_shipping", True) and not line.get("gift_card", False):
            wanted[str(sku)] = wanted.get(str(sku), 0) + int(line["quantity"])
    return wanted


@dataclass(frozen=True, slots=True)
class OrderContext:
    """What a decision knows beyond its state and event (gathered before it, read-only).

    Attributes:
        key: The hub id of the order (the instance key the event was routed to).
        settings: The flow's settings.
        availability: Available units per SKU of the order (None: the SKU is unknown).
        customer_id: The hub id of the order's customer, when resolved by links.
        links: This order's id in each system (system name -> external id).
        reserves: The hub holds stock for orders (`StockReservations`): `availability` is
            the reservation's answer, and decisions that end a hold ask for a
            ``reservation.release``.
        held: Units this step's reservation holds for the order (None: no reservation was
            made for this step; empty: it holds nothing).
    """

    key: str
    settings: OrderFulfilmentSettings
    availability: Mapping[str, int | None] = field(default_factory=dict)
    customer_id: str | None = None
    links: Mapping[str, str] = field(default_factory=dict)
    reserves: bool = False
    held: Mapping[str, int] | None = None


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
        FlowRejected: The event does not fit this order (for example a shipment of an order
            never placed, or data that is not a valid order).
    """
    if state is None:
        if event.type not in ORDER_EVENTS:
            raise FlowRejected(f"{event.type} for an order the flow has not seen placed")
        return _placed(event, ctx)
    step = _Step(copy.deepcopy(state), event, ctx.key, ctx)
    if event.type == "order.placed":
        return step.decision()  # a second (or late) placement of a known order: nothing new
    _note_hold(step)
    if event.type == "order.updated":
        _updated(step, _order_of(event, step.key))
    elif event.type == "order.cancelled":
        _cancelled(step, _order_of(event, step.key))
    elif event.type == STOCK_CHECK:
        _stock_check(step)
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
    """The first event of an order: ``order.placed``, or an update or cancellation that
    overtook it (the channel's payload carries the whole order either way)."""
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
        "parts": [],
        "pending": {},
        "cancelled_lines": {},
        "channel_lines": _line_quantities(_order_json(order)),
        "channel_sent": {},
        "held": False,
    }
    if event.subject and event.subject != key:
        state["ids"][channel] = event.subject
    step = _Step(state, event, key, ctx)
    if event.subject and event.subject != key:
        step.links.append(LinkRequest(key, channel, event.subject))
    step.links.append(LinkRequest(key, NUMBER_LINK, order.number))
    if order.status == "cancelled" or event.type == "order.cancelled":
        _cancelled(step, order)  # an early cancellation: nothing was asked of any system yet
    else:
        _note_hold(step)
        _validate(step, order, event.type)
    return step.decision()


def _problems(order: Order, ctx: OrderContext) -> tuple[str | None, str | None, dict[str, int]]:
    """Return (quarantine reason, address problem, short SKUs) of an order."""
    wanted = wanted_units(_order_json(order))
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
        _release_hold(step, "quarantined")
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
        crm = step.ctx.settings.crm
        if crm is not None:
            # At once, not with the CRM order: a later order of this customer (another
            # instance) names the Account even if this order never reaches the CRM.
            key: JSONObject = {"field": step.ctx.settings.crm_account_field, "value": customer_id}
            step.command("crm:customer", crm, "customer.upsert", {"customer": customer, "key": key})
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
    part = _part_of_result(step, str(data.get("idempotency_key") or ""))
    if part is not None:
        # A later part's warehouse order: its id belongs to the part (one link per system).
        if external is not None:
            part["warehouse_id"] = external
    elif event.type in (
        "erp.sales_order.created",
        "crm.order.created",
        "warehouse.order.released",
    ):
        if external is not None:
            step.state["ids"][destination] = external
            step.links.append(LinkRequest(step.key, destination, external))
        number = next((result[n] for n in _NUMBER_FIELDS if result.get(n) is not None), None)
        if number is not None:
            step.state.setdefault("numbers", {})[destination] = str(number)
    if event.type == "erp.sales_order.created" and step.status == "validated":
        step.move("erp_order_created", event.type)
        _release_hold(step, "committed")
        _tell_crm(step, "erp")
        _gate(step, "crm_told" if step.ctx.settings.crm else event.type)
    elif event.type == "erp.sales_order.updated" and step.status not in _WHOLE_CHECK:
        _release_hold(step, "committed")  # the ERP now carries the units an edit added
    elif event.type == "erp.invoice.created" and step.status == "delivered":
        if external is not None:
            step.state["ids"]["invoice"] = external
        step.move("invoiced", event.type)
        if _order(step).financial_status in _PAID:
            step.move("closed", "paid")
            _tell_crm(step, "closed")


def _part_of_result(step: _Step, idempotency_key: str) -> JSONObject | None:
    """The part (2, 3, ...) whose release command this result answers, if any."""
    if step.event.type != "warehouse.order.released":
        return None
    command_step = idempotency_key.split(":", 2)[-1]
    if not command_step.startswith("release:"):
        return None
    for part in step.state.get("parts") or []:
        if f"release:{part['part']}" == command_step:
            return part  # type: ignore[no-any-return]
    return None


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
        _backorder(step, order, trigger)
        return
    backordered = step.status == "backorder"
    step.move("released_to_warehouse", trigger)
    _release_part(step, unreleased_units(step.state))
    if backordered:
        _annotate_channel(step, f"released:{step.event.id}", tags_remove=[BACKORDER_TAG])


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


# --------------------------------------------------------------------------------------------
# Units: what is open, released, pending and cancelled, per order line
# --------------------------------------------------------------------------------------------


def _line_quantities(order_json: Mapping[str, Any]) -> dict[str, int]:
    return {str(ln["line_id"]): int(ln["quantity"]) for ln in order_json["lines"]}


def _open_units(state: Mapping[str, Any]) -> dict[str, int]:
    """Shippable units per line still wanted: ordered minus cancelled (``cancel_line``)."""
    cancelled = state.get("cancelled_lines") or {}
    units = {}
    for lid, _, qty in _shippable(state["order"]):
        left = qty - int(cancelled.get(lid, 0))
        if left > 0:
            units[lid] = left
    return units


def _released_units(state: Mapping[str, Any]) -> dict[str, int]:
    released: dict[str, int] = {}
    for part in state.get("parts") or []:
        for lid, qty in part["lines"].items():
            released[lid] = released.get(lid, 0) + int(qty)
    return released


def unreleased_units(state: Mapping[str, Any]) -> dict[str, int]:
    """Open units per line of an instance state not yet given to a warehouse (nor pending)."""
    released = _released_units(state)
    pending = state.get("pending") or {}
    units = {}
    for lid, qty in _open_units(state).items():
        left = qty - released.get(lid, 0) - int(pending.get(lid, 0))
        if left > 0:
            units[lid] = left
    return units


def units_by_sku(state: Mapping[str, Any], units: Mapping[str, int]) -> dict[str, int]:
    """Units per SKU of `units` per line of the instance state's order."""
    skus = {str(ln["line_id"]): ln.get("sku") for ln in state["order"]["lines"]}
    found: dict[str, int] = {}
    for lid, qty in units.items():
        sku = skus.get(lid)
        if sku:
            found[str(sku)] = found.get(str(sku), 0) + qty
    return found


def _short_of(step: _Step, units: Mapping[str, int]) -> dict[str, int]:
    """Missing units per SKU of `units` given the context's availability (unknown: none)."""
    wanted = units_by_sku(step.state, units)
    short = {}
    for sku, qty in sorted(wanted.items()):
        have = int(step.ctx.availability.get(sku) or 0)
        if have < qty:
            short[sku] = qty - have
    return short


def _allot(
    step: _Step, units: Mapping[str, int], short: Mapping[str, int]
) -> tuple[dict[str, int], dict[str, int]]:
    """Split `units` per line into (in stock now, missing), lines in order, by SKU."""
    wanted = units_by_sku(step.state, units)
    left = {sku: qty - int(short.get(sku, 0)) for sku, qty in wanted.items()}
    skus = {str(ln["line_id"]): ln.get("sku") for ln in step.state["order"]["lines"]}
    take: dict[str, int] = {}
    missing: dict[str, int] = {}
    for lid, qty in units.items():
        sku = skus.get(lid)
        can = min(qty, max(0, left.get(str(sku), 0))) if sku else qty
        if sku:
            left[str(sku)] = left.get(str(sku), 0) - can
        if can > 0:
            take[lid] = can
        if qty - can > 0:
            missing[lid] = qty - can
    return take, missing


def _describe(step: _Step, units: Mapping[str, int]) -> str:
    return ", ".join(f"{sku} ×{n}" for sku, n in units_by_sku(step.state, units).items())


def _line_list(step: _Step, units: Mapping[str, int]) -> list[JSONObject]:
    skus = {str(ln["line_id"]): ln.get("sku") for ln in step.state["order"]["lines"]}
    return [{"line_id": lid, "sku": skus.get(lid), "quantity": q} for lid, q in units.items()]


# --------------------------------------------------------------------------------------------
# Release to the warehouse, in one part or several
# --------------------------------------------------------------------------------------------


def _release_part(step: _Step, lines: Mapping[str, int]) -> None:
    """Give `lines` to the warehouse as the order's next part (the caller moved the state).

    Part 1 is the warehouse order keyed by the hub id; when it is the whole order it carries
    the order as accepted. A later part is keyed ``<id>-<n>`` and numbered ``<number>-<n>``
    (ShipStation upserts by ``orderKey``, the EDI 3PL knows an order by its W0502 number).
    """
    state = step.state
    parts = state.setdefault("parts", [])
    n = len(parts) + 1
    order = _order(step)
    country = order.shipping_address.country_code if order.shipping_address else None
    warehouse = step.ctx.settings.warehouse_for(country, str(state["channel"]))
    whole = n == 1 and dict(lines) == _open_units(state) and not state.get("cancelled_lines")
    released = state["order"] if whole else _part_order(order, lines, n)
    parts.append(
        {
            "part": n,
            "order_key": part_key(step.key, n),
            "number": released["number"],
            "warehouse": warehouse,
            "lines": dict(lines),
            "done": False,
        }
    )
    state["warehouse"] = warehouse
    state["reason"] = None
    step.command(
        "release" if n == 1 else f"release:{n}",
        warehouse,
        "order.release",
        {"order": released, "order_key": part_key(step.key, n)},
    )
    if n > 1:
        step.links.append(LinkRequest(step.key, part_number_link(n), str(released["number"])))
    _release_hold(step, "committed")


def _part_order(order: Order, lines: Mapping[str, int], n: int) -> JSONObject:
    """The canonical order of one part: its lines and units, totals recomputed.

    Line discounts and taxes are prorated to the part's units; shipping charges stay with
    part 1; order-level discounts and taxes are left out (a part is a pick instruction).
    """
    kept: list[OrderLine] = []
    for line in order.lines:
        units = int(lines.get(line.line_id, 0))
        if units <= 0:
            continue
        if units != line.quantity:
            share = Decimal(units) / Decimal(line.quantity)
            line = line.model_copy(
                update={
                    "quantity": units,
                    "discount_allocations": [
                        d.model_copy(update={"amount": (d.amount * share).quantize()})
                        for d in line.discount_allocations
                    ],
                    "tax_lines": [
                        t.model_copy(update={"amount": (t.amount * share).quantize()})
                        for t in line.tax_lines
                    ],
                }
            )
        kept.append(line)
    shipping = order.shipping_lines if n == 1 else []
    computed = compute_totals(
        currency=order.currency,
        lines=kept,
        shipping_lines=shipping,
        taxes_included=order.taxes_included,
    )
    part = order.model_copy(
        update={
            "number": order.number if n == 1 else f"{order.number}-{n}",
            "lines": kept,
            "shipping_lines": shipping,
            "order_tax_lines": [],
            "order_discounts": [],
            "totals": OrderTotals(
                subtotal=computed.lines,
                discounts=computed.discounts,
                shipping=computed.shipping,
                tax=computed.tax,
                total=computed.total,
            ),
        }
    )
    return part.model_dump(mode="json")


# --------------------------------------------------------------------------------------------
# Backorders: the rule at the gate, stock checks, short picks, cancelled lines
# --------------------------------------------------------------------------------------------


def _backorder(step: _Step, order: Order, trigger: str) -> None:
    """Short stock at the release gate: apply the backorder rule to the unreleased units."""
    rule = step.ctx.settings.backorder
    short = step.state["short"]
    units = unreleased_units(step.state)
    take, missing = _allot(step, units, short)
    text = f"short: {', '.join(f'{sku} ×{n}' for sku, n in short.items())}"
    if rule is BackorderRule.HOLD or (rule is BackorderRule.SPLIT and not take):
        if step.status != "backorder":
            step.state["reason"] = text
            step.move("backorder", trigger)
            step.emit(
                f"backorder:{step.event.id}",
                "order.backordered",
                {"short": short, "rule": rule.value},
            )
            _annotate_channel(
                step,
                f"backorder:{step.event.id}",
                tags_add=[BACKORDER_TAG],
                note=f"Backordered ({text}): the order ships when every unit is in stock.",
            )
            _open_case(step, "backorder", f"Order {order.ref}: backorder", text)
        return
    details: JSONObject = {
        "short": short,
        "rule": rule.value,
        "released": _line_list(step, take),
        "missing": _line_list(step, missing),
    }
    if rule is BackorderRule.SPLIT:
        step.state["pending"] = missing
        step.move("partial_backorder", trigger)
        _release_part(step, take)
        step.state["reason"] = text
        step.emit(f"backorder:{step.event.id}", "order.backordered", details)
        _annotate_channel(
            step,
            f"backorder:{step.event.id}",
            tags_add=[BACKORDER_TAG],
            note=f"Backordered ({text}): {_describe(step, take)} ships now, "
            f"{_describe(step, missing)} when in stock.",
        )
        _open_case(
            step,
            "backorder",
            f"Order {order.ref}: backorder (split)",
            f"{text}. Released now: {_describe(step, take)}; the rest ships when it is in stock.",
        )
        return
    step.emit(f"backorder:{step.event.id}", "order.backordered", details)
    _annotate_channel(
        step,
        f"backorder:{step.event.id}",
        note=f"Out of stock ({text}): {_describe(step, missing)} cancelled and refunded.",
    )
    if take:
        step.move("released_to_warehouse", trigger)
        _release_part(step, take)
        _cancel_units(step, missing, "backorder")
    else:
        step.state["reason"] = f"{text}: nothing in stock, every line cancelled"
        step.move("cancelled", trigger)
        _cancel_units(step, missing, "backorder")
        _release_hold(step, "cancelled")
    _open_case(
        step,
        "backorder",
        f"Order {order.ref}: backorder (lines cancelled)",
        f"{text}. Cancelled and refunded: {_describe(step, missing)}"
        + (f"; released: {_describe(step, take)}." if take else "."),
    )


def _stock_check(step: _Step) -> None:
    """Stock arrived for a SKU the order waits on: check the waiting units again."""
    if step.status == "backorder":
        step.state["short"] = _short_of(step, unreleased_units(step.state))
        _gate(step, STOCK_CHECK)
    elif step.status == "partial_backorder":
        _release_pending(step, STOCK_CHECK)


def _release_pending(step: _Step, trigger: str) -> None:
    """Release the pending units as the next part when every one of them is in stock."""
    pending = dict(step.state.get("pending") or {})
    if not pending:
        return
    short = _short_of(step, pending)
    step.state["short"] = short
    if short:
        return
    step.state["pending"] = {}
    step.move("partially_shipped" if _shipped_units(step) else "released_to_warehouse", trigger)
    _release_part(step, pending)
    step.emit(
        f"backorder_released:{step.event.id}",
        "order.backorder_released",
        {"part": len(step.state["parts"]), "lines": _line_list(step, pending)},
    )
    _annotate_channel(step, f"released:{step.event.id}", tags_remove=[BACKORDER_TAG])


def _short_pick(step: _Step, part: JSONObject, missing: Mapping[str, int]) -> None:
    """A final shipment of `part` came with fewer units than released: apply the rule."""
    rule = step.ctx.settings.backorder
    n = int(part["part"])
    part["short"] = dict(missing)
    order = _order(step)
    text = f"short pick of {part['number']}: {_describe(step, missing)} not shipped"
    step.emit(
        f"short_pick:{n}",
        "order.short_picked",
        {"part": n, "missing": _line_list(step, missing), "rule": rule.value},
    )
    if rule is BackorderRule.CANCEL_LINE:
        _cancel_units(step, missing, f"short:{n}")
        description = f"{text}; the missing units are cancelled and refunded."
    else:
        pending = step.state.setdefault("pending", {})
        for lid, qty in missing.items():
            pending[lid] = int(pending.get(lid, 0)) + qty
        step.state["reason"] = text
        description = f"{text}; they ship as a new warehouse order when in stock."
    step.emit(
        f"backorder:short:{n}",
        "order.backordered",
        {
            "short": units_by_sku(step.state, missing),
            "rule": rule.value,
            "missing": _line_list(step, missing),
            "cause": "short_pick",
        },
    )
    if rule is BackorderRule.CANCEL_LINE:
        _annotate_channel(
            step, f"short_pick:{n}", note=f"Out of stock ({text}): cancelled and refunded."
        )
    else:
        _annotate_channel(
            step,
            f"short_pick:{n}",
            tags_add=[BACKORDER_TAG],
            note=f"Backordered ({text}): they ship as a new parcel when in stock.",
        )
    _open_case(step, f"short_pick:{n}", f"Order {order.ref}: short pick", description)


def _cancel_units(step: _Step, units: Mapping[str, int], why: str) -> None:
    """Cancel `units` of the order (``cancel_line``): channel refund, ERP close, CRM."""
    if not units:
        return
    cancelled = step.state.setdefault("cancelled_lines", {})
    for lid, qty in units.items():
        cancelled[lid] = int(cancelled.get(lid, 0)) + qty
    step.emit(
        f"lines_cancelled:{why}",
        "order.lines_cancelled",
        {"lines": _line_list(step, units), "reason": "out of stock"},
    )
    _refund_units(step, _order(step), units, f"refund:{why}")
    step.state["close_due"] = True
    _close_when_fulfilled(step)
    _tell_crm(step, f"lines_cancelled:{why}")


def _close_when_fulfilled(step: _Step) -> None:
    """Close the ERP order's remainder once no released part is still open."""
    if not step.state.get("close_due"):
        return
    if any(not part.get("done") for part in step.state.get("parts") or []):
        return
    if step.state.get("pending"):
        return
    step.state["close_due"] = False
    step.command(
        "close:cancel_line",
        step.ctx.settings.erp,
        "sales_order.close",
        {"order_id": step.key, "reason": "out_of_stock"},
    )


# --------------------------------------------------------------------------------------------
# Stock held by the hub
# --------------------------------------------------------------------------------------------


def _note_hold(step: _Step) -> None:
    """Record whether the context's reservation holds units for the order now."""
    held = step.ctx.held
    if held is not None:
        step.state["held"] = any(int(units) > 0 for units in held.values())


def _release_hold(step: _Step, reason: str) -> None:
    """Ask the hub's availability to end the order's hold (once per hold)."""
    if not step.ctx.reserves or not step.state.get("held"):
        return
    count = int(step.state.get("hold_releases", 0))
    step.state["hold_releases"] = count + 1
    step.state["held"] = False
    step.command(
        f"reservation:{reason}" if count == 0 else f"reservation:{reason}:{count}",
        RESERVATIONS_DESTINATION,
        RESERVATION_RELEASE,
        {"order_id": step.key, "reason": reason},
    )


# --------------------------------------------------------------------------------------------
# Edits and cancellations
# --------------------------------------------------------------------------------------------


def _lines(order_json: Mapping[str, Any]) -> list[tuple[str, str | None, int]]:
    return [(str(ln["line_id"]), ln.get("sku"), int(ln["quantity"])) for ln in order_json["lines"]]


def _after_cancelled_lines(
    order_json: Mapping[str, Any], cancelled: Mapping[str, int]
) -> list[tuple[str, str | None, int]]:
    """The lines as the channel shows them once our ``cancel_line`` refunds took effect."""
    lines = []
    for lid, sku, qty in _lines(order_json):
        left = qty - int(cancelled.get(lid, 0))
        if left > 0:
            lines.append((lid, sku, left))
    return lines


def _updated(step: _Step, order: Order) -> None:
    if order.status == "cancelled":
        _cancelled(step, order)
        return
    previous = step.state["order"]
    new = _order_json(order)
    if _older(new, previous):
        return  # an out-of-order delivery of an earlier state of the order: already superseded
    status = step.status
    if status in _REVALIDATING:
        step.state["order"] = new
        step.state["channel_lines"] = _line_quantities(new)
        _validate(step, order, "order.updated")
        return
    if status in ("cancelled", "cancelled_after_release"):
        return
    step.state["channel_lines"] = _line_quantities(new)
    cancelled = step.state.get("cancelled_lines") or {}
    lines_changed = _lines(previous) != _lines(new)
    echo = (
        lines_changed
        and bool(cancelled)
        and _lines(new) == _after_cancelled_lines(previous, cancelled)
    )
    if echo:
        lines_changed = False  # the channel shows our own cancel_line refund: nothing to do
    address_changed = previous.get("shipping_address") != new.get("shipping_address")
    released = status not in PRE_RELEASE
    rejected = []
    line_changes: list[JSONObject] = []
    if lines_changed:
        refusal = edit_refusal(step.state, new, step.ctx.settings) or _unknown_in_edit(step, new)
        if refusal is None:
            line_changes = erp_line_changes(previous, new)
        else:
            rejected.append(refusal)
    if address_changed and released:
        rejected.append("shipping address changed after release")
    if echo or (lines_changed and not line_changes):
        # The hub keeps the lines it has (a rejected edit, or the echo of our own refund).
        new["lines"] = previous["lines"]
        new["totals"] = previous["totals"]
        new["shipping_lines"] = previous.get("shipping_lines", [])
        new["order_tax_lines"] = previous.get("order_tax_lines", [])
        new["order_discounts"] = previous.get("order_discounts", [])
    if rejected:
        reason = "; ".join(rejected)
        step.state["edits"].append(
            {"event": step.event.id, "outcome": "rejected", "reason": reason}
        )
        step.emit(f"edit_rejected:{step.event.id}", "order.edit_rejected", {"reason": reason})
        if released:
            new["shipping_address"] = previous.get("shipping_address")
    changes: JSONObject = {}
    if address_changed and not released:
        changes["shipping_address"] = new.get("shipping_address")
    if line_changes:
        changes["lines"] = line_changes
        step.state["short"] = _edited_short(step, previous, new)
    if changes:
        applied: JSONObject = {"event": step.event.id, "outcome": "applied"}
        if line_changes:
            applied["lines"] = line_changes
        step.state["edits"].append(applied)
        step.command(
            f"edit:{step.event.id}:erp",
            step.ctx.settings.erp,
            "sales_order.update",
            {"order_id": step.key, "changes": changes},
        )
    step.state["order"] = new
    if status == "invoiced" and order.financial_status in _PAID:
        step.move("closed", "paid")
        _tell_crm(step, "closed")
    if status == "backorder":
        step.state["short"] = _short_of(step, unreleased_units(step.state))
    if status in GATE_SOURCES:
        _gate(step, "order.updated")
    elif status == "partial_backorder":
        _release_pending(step, "order.updated")


# --------------------------------------------------------------------------------------------
# Quantity edits before release
# --------------------------------------------------------------------------------------------


def edit_refusal(
    state: Mapping[str, Any], new_order: Mapping[str, Any], settings: OrderFulfilmentSettings
) -> str | None:
    """Why a change of the order's lines cannot be applied now (None: it can).

    Applied (policy ``release``) in the states before release in which the ERP order was asked
    for; refused after release, under policy ``erp``, and when a line the ERP cannot match
    (no SKU, or a gift card) changed.
    """
    status = str(state["status"])
    if status not in PRE_RELEASE:
        return "quantities or lines changed after release"
    if settings.edit_quantities_until is not EditQuantitiesUntil.RELEASE:
        return "quantities or lines changed after the ERP order"
    old, now = _unmatched(state["order"]), _unmatched(new_order)
    changed = sorted(lid for lid in set(old) | set(now) if old.get(lid) != now.get(lid))
    if changed:
        return (
            f"line {', '.join(changed)} (no SKU, or a gift card) changed: the ERP order "
            "cannot be matched to it"
        )
    return None


def _unmatched(order_json: Mapping[str, Any]) -> dict[str, tuple[str | None, int]]:
    """The lines an ERP cannot match by SKU: custom lines and gift cards."""
    return {
        str(ln["line_id"]): (ln.get("sku"), int(ln["quantity"]))
        for ln in order_json["lines"]
        if not ln.get("sku") or ln.get("gift_card", False)
    }


def _sku_units(order_json: Mapping[str, Any]) -> dict[str, int]:
    units: dict[str, int] = {}
    for ln in order_json["lines"]:
        if ln.get("sku") and not ln.get("gift_card", False):
            units[str(ln["sku"])] = units.get(str(ln["sku"]), 0) + int(ln["quantity"])
    return units


def erp_line_changes(previous: Mapping[str, Any], new: Mapping[str, Any]) -> list[JSONObject]:
    """The ``lines`` of a ``sales_order.update``: each SKU whose units changed, with its new
    total (0: removed); a SKU new to the order carries its price and title for the new line.

    The ERP's lines are matched by SKU (they do not carry the channel's line ids); the first
    line id of the SKU is given for reference.
    """
    old, now = _sku_units(previous), _sku_units(new)
    first: dict[str, Mapping[str, Any]] = {}
    for ln in [*new["lines"], *previous["lines"]]:
        if ln.get("sku"):
            first.setdefault(str(ln["sku"]), ln)
    changes: list[JSONObject] = []
    for sku, line in first.items():
        if old.get(sku, 0) == now.get(sku, 0):
            continue
        change: JSONObject = {
            "line_id": str(line["line_id"]),
            "sku": sku,
            "quantity": now.get(sku, 0),
        }
        if sku not in old:
            change["unit_price"] = line["unit_price"]
            change["title"] = line.get("title")
        changes.append(change)
    return changes


_WHOLE_CHECK: Final = frozenset({"validated", "backorder"})
"""States in which a quantity edit's stock check covers every unit of the edited order: the
hub still holds the order's units (the ERP order is not confirmed yet), or the order waits
for stock. In the other states before release the ERP's figures carry the units it has, so
only the units the edit adds are checked (and held)."""


def edit_units(state: Mapping[str, Any], new_order: Mapping[str, Any]) -> dict[str, int]:
    """Units per SKU a quantity edit must find in stock (and the hub holds, when it does)."""
    new = wanted_units(new_order)
    if state["status"] in _WHOLE_CHECK:
        return new
    old = wanted_units(state["order"])
    return {sku: units - old.get(sku, 0) for sku, units in new.items() if units > old.get(sku, 0)}


def quantity_edit_units(
    state: Mapping[str, Any], new_order: Mapping[str, Any], settings: OrderFulfilmentSettings
) -> dict[str, int] | None:
    """Units per SKU an ``order.updated`` carrying `new_order` must find in stock as a
    quantity edit the flow applies (`edit_units`); None when it is no such edit (its lines
    are the order's, it is superseded, it validates the order again, or it is refused)."""
    previous = state["order"]
    if state["status"] in _REVALIDATING or _older(new_order, previous):
        return None
    if _lines(new_order) == _lines(previous):
        return None
    if edit_refusal(state, new_order, settings) is not None:
        return None
    return edit_units(state, new_order)


def _unknown_in_edit(step: _Step, new: Mapping[str, Any]) -> str | None:
    unknown = sorted(
        sku for sku in edit_units(step.state, new) if step.ctx.availability.get(sku) is None
    )
    return f"unknown SKU: {', '.join(unknown)}" if unknown else None


def _edited_short(
    step: _Step, previous: Mapping[str, Any], new: Mapping[str, Any]
) -> dict[str, int]:
    """Missing units per SKU once the edit is applied (the backorder rule reads them)."""
    checked = edit_units(step.state, new)
    short = {}
    for sku, units in sorted(checked.items()):
        have = int(step.ctx.availability.get(sku) or 0)
        if have < units:
            short[sku] = units - have
    if step.status in _WHOLE_CHECK:
        return short
    # Units the ERP has: what was short stays short, less what the edit took away.
    old, now = wanted_units(previous), wanted_units(new)
    for sku, missing in (step.state.get("short") or {}).items():
        kept = int(missing) + min(0, now.get(sku, 0) - old.get(sku, 0))
        if kept > 0:
            short[sku] = short.get(sku, 0) + kept
    return dict(sorted(short.items()))


def _older(new: Mapping[str, Any], previous: Mapping[str, Any]) -> bool:
    """True when `new` is an earlier state of the order than `previous` (by ``updated_at``)."""
    ours, theirs = new.get("updated_at"), previous.get("updated_at")
    if not ours or not theirs:
        return False
    return datetime.fromisoformat(str(ours)) < datetime.fromisoformat(str(theirs))


def _parts(step: _Step) -> list[JSONObject]:
    """The released parts (an instance from before parts were recorded has one: the order)."""
    parts: list[JSONObject] = step.state.get("parts") or []
    if not parts and step.state.get("warehouse"):
        number = step.state["order"]["number"]
        whole = {"part": 1, "order_key": step.key, "number": number, "done": False}
        parts = [{**whole, "warehouse": step.state["warehouse"], "lines": {}}]
    return parts


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
        _release_hold(step, "cancelled")
        return
    if status not in POST_RELEASE:
        why = f"cancellation after {status} cannot be compensated by the flow; a return is needed"
        step.emit(f"cancel_rejected:{step.event.id}", "order.cancel_rejected", {"reason": why})
        return
    step.move("cancelled_after_release", step.event.type)
    for part in _parts(step):
        if part.get("done"):
            continue
        n = int(part["part"])
        step.command(
            "cancel:warehouse" if n == 1 else f"cancel:warehouse:{n}",
            str(part["warehouse"]),
            "order.cancel",
            {"order_key": part["order_key"], "order_number": part["number"]},
        )
    step.state["pending"] = {}
    step.state["close_due"] = False
    _close_erp(step, reason)
    _refund_in_channel(step, order)
    _tell_crm(step, "cancelled")
    _release_hold(step, "cancelled")
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
    """Refund what the cancelled order still has: units neither shipped nor cancelled before."""
    shipped = _shipped_units(step)
    cancelled = step.state.get("cancelled_lines") or {}
    units = {}
    for line in order.lines:
        left = line.quantity - shipped.get(line.line_id, 0) - int(cancelled.get(line.line_id, 0))
        if left > 0:
            units[line.line_id] = left
    _refund_units(step, order, units, "cancel:refund")


def _refund_units(step: _Step, order: Order, units: Mapping[str, int], name: str) -> None:
    """Refund `units` per line in the channel (Shopify), when the order was paid."""
    channel = str(step.state["channel"])
    if step.ctx.settings.channels.get(channel) != _SHOPIFY or not units:
        return
    if order.financial_status not in ("paid", "partially_paid", "partially_refunded"):
        return
    order_id = _channel_order_id(step)
    if order_id is None:
        unknown = "refund_unknown_id" if name == "cancel:refund" else f"{name}:unknown_id"
        step.emit(unknown, "order.exception", {"reason": "no channel order id"})
        return
    items = [
        {"line_item_id": int(lid), "quantity": qty, "restock_type": "cancel"}
        for lid, qty in units.items()
        if lid.isdigit()
    ]
    step.command(
        name,
        channel,
        "order.refund",
        {"order_id": order_id, "refund_line_items": items, "notify": True},
    )


def _annotate_channel(
    step: _Step,
    name: str,
    *,
    tags_add: list[str] | None = None,
    tags_remove: list[str] | None = None,
    note: str | None = None,
) -> None:
    """Tag the channel order and add a line to its note (Shopify's ``order.annotate``), so
    the storefront and the service views show a backorder; the tag goes when it is released."""
    channel = str(step.state["channel"])
    if step.ctx.settings.channels.get(channel) != _SHOPIFY:
        return
    order_id = _channel_order_id(step)
    if order_id is None:
        return  # no channel order id known: nothing to annotate
    payload: JSONObject = {"order_id": order_id}
    if tags_add:
        payload["tags_add"] = tags_add
    if tags_remove:
        payload["tags_remove"] = tags_remove
    if note:
        payload["note"] = note
    step.command(f"annotate:{name}", channel, "order.annotate", payload)


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


_PROGRESS: Final = {
    "unknown": 0,
    "pre_transit": 1,
    "in_transit": 2,
    "out_for_delivery": 3,
    "available_for_pickup": 3,
    "delivered": 4,
}
"""How far along a parcel's journey a carrier status is (exceptions are off this scale)."""


def _stale_status(known: str, reported: str) -> bool:
    """True when `reported` is behind what the parcel already reached.

    Tracker events arrive late and out of order (retries, reordering); a parcel never goes back
    from delivered, nor from out for delivery to in transit. An exception (return to sender,
    failure) is taken unless the parcel is already delivered.
    """
    if known == "delivered":
        return reported != "delivered"
    if known in _PROGRESS and reported in _PROGRESS:
        return _PROGRESS[reported] < _PROGRESS[known]
    return False


def _shipment(step: _Step, shipment: Shipment) -> None:
    if step.status not in (*POST_RELEASE, "shipped", "delivered", "invoiced", "closed"):
        step.emit(
            f"early_shipment:{step.event.id}",
            "order.exception",
            {"reason": f"shipment while the order is {step.status}"},
        )
        return
    part = _part_of(step, shipment)
    if not shipment.lines and shipment.final is True and shipment.short_lines:
        # The warehouse shipped nothing of its order: a short-pick notice, not a parcel.
        before = step.status
        _part_progress(step, part, final=True)
        _progress(step, before)
        _close_when_fulfilled(step)
        return
    skey = shipment_key(shipment)
    known = step.state["shipments"].get(skey)
    lines = _shipment_lines(step, shipment, part)
    if known is None:
        step.state["shipments"][skey] = {
            "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number,
            "tracking_url": shipment.tracking_url,
            "lines": lines,
            "status": shipment.status,
            "part": part,
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
        _part_progress(step, part, final=shipment.final is True)
    elif _stale_status(str(known["status"]), shipment.status):
        return  # a late scan (a retried or reordered tracker event): the parcel went further
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
    _close_when_fulfilled(step)
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


def _part_of(step: _Step, shipment: Shipment) -> int:
    """The part a shipment belongs to: by its warehouse order key, else its number, else 1."""
    for part in step.state.get("parts") or []:
        if shipment.order.id is not None and shipment.order.id == part["order_key"]:
            return int(part["part"])
        if shipment.order.id is None and shipment.order.number == part["number"]:
            return int(part["part"])
    return 1


def _find_part(step: _Step, n: int) -> JSONObject | None:
    return next((p for p in step.state.get("parts") or [] if int(p["part"]) == n), None)


def _part_progress(step: _Step, n: int, *, final: bool) -> None:
    """Mark part `n` done when all of it shipped, or when its final shipment came short."""
    part = _find_part(step, n)
    if part is None or part.get("done"):
        return
    shipped = _shipped_units(step, n)
    missing = {
        lid: int(qty) - shipped.get(lid, 0)
        for lid, qty in part["lines"].items()
        if int(qty) > shipped.get(lid, 0)
    }
    if not missing:
        part["done"] = True
    elif final:
        part["done"] = True
        _short_pick(step, part, missing)


def _shipment_lines(step: _Step, shipment: Shipment, part: int) -> list[JSONObject]:
    order = step.state["order"]
    by_sku = {ln.get("sku"): str(ln["line_id"]) for ln in order["lines"] if ln.get("sku")}
    if not shipment.lines:
        # No lines: everything left of its warehouse order (of the order, before parts).
        found = _find_part(step, part)
        skus = {str(ln["line_id"]): ln.get("sku") for ln in order["lines"]}
        if found is not None and found["lines"]:
            shipped = _shipped_units(step, part)
            units = {lid: int(q) for lid, q in found["lines"].items()}
        else:
            shipped = _shipped_units(step)
            units = _open_units(step.state)
        return [
            {"line_id": lid, "sku": skus.get(lid), "quantity": qty - shipped.get(lid, 0)}
            for lid, qty in units.items()
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


def _shipped_units(step: _Step, part: int | None = None) -> dict[str, int]:
    """Units shipped per line (of one part when `part` is given)."""
    shipped: dict[str, int] = {}
    for s in step.state["shipments"].values():
        if part is not None and int(s.get("part") or 1) != part:
            continue
        for line in s["lines"]:
            if line.get("line_id"):
                shipped[line["line_id"]] = shipped.get(line["line_id"], 0) + int(line["quantity"])
    return shipped


def _channel_open(step: _Step) -> dict[str, int]:
    """Units per line the channel order still has open for fulfilment.

    The channel's latest quantities (an edit after release lowers them while the warehouse
    ships what was released), never more than the hub's open units, minus what was already
    sent to the channel.
    """
    state = step.state
    channel = state.get("channel_lines")
    cancelled = state.get("cancelled_lines") or {}
    sent = state.get("channel_sent") or {}
    open_units = {}
    for lid, qty in _line_quantities(state["order"]).items():
        ours = qty - int(cancelled.get(lid, 0))
        theirs = int(channel.get(lid, 0)) if channel is not None else qty
        open_units[lid] = max(0, min(ours, theirs) - int(sent.get(lid, 0)))
    return open_units


def _channel_lines(step: _Step, skey: str, lines: list[JSONObject]) -> list[JSONObject]:
    """Cap each shipped line at what the channel has open; tell of the excess."""
    available = _channel_open(step)
    sent = step.state.setdefault("channel_sent", {})
    capped: list[JSONObject] = []
    excess: dict[str, int] = {}
    for line in lines:
        lid, qty = str(line["line_id"]), int(line["quantity"])
        take = min(qty, available.get(lid, 0))
        available[lid] = available.get(lid, 0) - take
        if take < qty:
            excess[lid] = excess.get(lid, 0) + qty - take
        if take > 0:
            sent[lid] = int(sent.get(lid, 0)) + take
            capped.append({"line_item_id": int(lid), "quantity": take})
    if excess:
        text = ", ".join(f"line {lid} ×{n}" for lid, n in excess.items())
        reason = f"shipment {skey} holds more than the channel order has open: {text}"
        step.emit(
            f"channel_excess:{skey}",
            "order.exception",
            {"reason": reason, "shipment": skey, "excess": _line_list(step, excess)},
        )
        _open_case(
            step,
            f"channel_excess:{skey}",
            f"Order {step.state['order']['number']}: shipped more than the channel order has",
            f"{reason} (the order was edited in the channel after release). The fulfilment "
            "sent to the channel is capped; the extra units need a decision.",
        )
    return capped


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
        send = True
        if lines and all(str(ln.get("line_id") or "").isdigit() for ln in lines):
            entry["lines"] = _channel_lines(step, skey, lines)
            send = bool(entry["lines"])
        if send:
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
    trigger = step.event.type
    if step.status in POST_RELEASE:
        wanted = _open_units(step.state)
        if step.state.get("pending"):
            step.move("partial_backorder", "short pick")
        elif not wanted and not shipped:
            # cancel_line after a short pick that shipped nothing: no unit is left to ship.
            step.move("cancelled_after_release", "short pick")
            _tell_crm(step, "cancelled")
        elif all(shipped.get(lid, 0) >= qty for lid, qty in wanted.items()):
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
