"""The catalogue of canonical command kinds, their payload shapes and their result events.

A flow asks for an external effect by writing a `crossdock.backbone.store.Command` to the outbox:
``destination`` is a system name from the governance file, ``kind`` one of the kinds below. The
connector serving the destination performs it (``@handles(kind)``); the kind's name is shared
by every system of the same role, so that a flow never names a vendor.

When a command completes, the worker appends its **result event** (`result_event`): type
`CommandSpec.result_event`, subject the flow instance that asked for it, data the command's
kind, destination, idempotency key and the connector's result. When a command becomes a dead
letter, a ``command.failed`` event tells the flow. Both come back to the flow through the event
log, like every other fact.

``docs/commands.md`` is rendered from this catalogue by `render_markdown`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from crossdock.canonical.envelope import Event
from crossdock.canonical.ids import new_id

__all__ = [
    "CATALOGUE",
    "COMMAND_FAILED",
    "INSTANCE_FIELD",
    "CommandSpec",
    "failure_event",
    "render_markdown",
    "result_event",
    "result_event_types",
    "spec_for",
]

COMMAND_FAILED: Final = "command.failed"
"""The event type appended when a command becomes a dead letter."""

INSTANCE_FIELD: Final = "instance"
"""Payload field naming the flow instance that asked: ``{"flow": ..., "key": ...}``."""

RESULT_SOURCE: Final = "crossdock:hub"


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command kind as one role of system performs it.

    Attributes:
        kind: The command kind (what ``@handles`` names).
        role: The role of the destination system (``erp``, ``crm``, ``channel``, ``warehouse``,
            ``tracking``); one kind may be served by several roles (``order.cancel``).
        payload: The payload fields and what each holds (``?`` marks an optional one).
        result_event: The type of the event appended when the command completes.
        description: What performing it does.
    """

    kind: str
    role: str
    payload: Mapping[str, str]
    result_event: str
    description: str


_ORDER = "the canonical order (order.v1 JSON) with its hub id"
_INSTANCE = "the flow instance asking: {flow, key}"

CATALOGUE: tuple[CommandSpec, ...] = (
    # ERP (NetSuite handles these kinds; Business Central: see each description) ----------------
    CommandSpec(
        "customer.upsert",
        "erp",
        {
            "customer": "the canonical customer (customer.v1 JSON) with its hub id",
            "instance": _INSTANCE,
        },
        "erp.customer.upserted",
        "Create or replace the customer by its hub id (externalId), before its first order.",
    ),
    CommandSpec(
        "sales_order.create",
        "erp",
        {
            "order": _ORDER,
            "order_id": "hub order id",
            "customer_id": "hub customer id (the ERP customer's external id)",
            "instance": _INSTANCE,
        },
        "erp.sales_order.created",
        "Create the sales order (externalId = hub order id, so a retry finds it); result: "
        "netsuite_id / bc_order_id, tran_id / number. Business Central's handler of this kind "
        "expects a flattened payload (customer_number, lines): the hub maps it.",
    ),
    CommandSpec(
        "sales_order.update",
        "erp",
        {
            "order_id": "hub order id",
            "changes": "what changed, canonical names: {shipping_address?, lines?: [{sku, "
            "quantity (the SKU's new units on the order; 0 = cancel what is not shipped), "
            "line_id?, unit_price? (Money, for a new SKU), title?}]}",
            "instance": _INSTANCE,
        },
        "erp.sales_order.updated",
        "Propagate an allowed edit to the sales order: the address before release, and line "
        'quantities before release under edit_quantities_until = "release" (ERP lines matched '
        "by SKU; only what differs is written). Result: the create result's ids and updated "
        "(the change names).",
    ),
    CommandSpec(
        "sales_order.close",
        "erp",
        {"order_id": "hub order id", "reason": "why (a cancel reason)", "instance": _INSTANCE},
        "erp.sales_order.closed",
        "Close (cancel) the remaining lines of the sales order (NetSuite closes the open lines; "
        "Business Central deletes an unshipped order and, on a partly shipped one, lowers each "
        "line's quantity to what it shipped). Nothing left to ship: done.",
    ),
    CommandSpec(
        "fulfillment.record",
        "erp",
        {
            "shipment": "the canonical shipment (shipment.v1 JSON) with its hub id, its "
            "order's hub id and lines with SKUs",
            "order_id": "hub order id",
            "instance": _INSTANCE,
        },
        "erp.fulfillment.recorded",
        "Record one shipment as an item fulfilment of the sales order (one per shipment id). "
        "Business Central calls this sales_order.fulfil with cumulative lines: the hub maps it.",
    ),
    CommandSpec(
        "invoice.create",
        "erp",
        {"order_id": "hub order id", "invoice_id": "hub invoice id", "instance": _INSTANCE},
        "erp.invoice.created",
        "Invoice what is fulfilled and unbilled on the sales order (one per invoice id); "
        "result: netsuite_id / id, tran_id / number. Business Central invoices each shipment "
        "as it posts it: its handler finds the order's posted invoices (all of them in "
        "result.invoices) and is retried while a shipped line is not invoiced yet.",
    ),
    CommandSpec(
        "return.authorize",
        "erp",
        {
            "return": "the canonical return (return.v1 JSON) with its hub id, its order's hub "
            "id and lines with SKUs",
            "order_id?": "hub order id (default: the return's order id)",
            "instance": _INSTANCE,
        },
        "erp.return.authorized",
        "Authorize the return of the lines' items at the order's prices (one per return id); "
        "result: netsuite_id / id, tran_id / number. NetSuite: a return authorization; "
        "Business Central: a draft sales credit memo carrying the return id.",
    ),
    CommandSpec(
        "return.credit",
        "erp",
        {
            "return_id": "hub return id (of an authorized return)",
            "credit_id?": "hub credit id (NetSuite's credit memo external id; default "
            "<return_id>:credit)",
            "instance": _INSTANCE,
        },
        "erp.return.credited",
        "Credit an authorized return (once); result: netsuite_id / id, tran_id / number. "
        "NetSuite transforms the return authorization into a credit memo; Business Central "
        "posts the draft credit memo (the returned units go back to inventory).",
    ),
    # CRM (Salesforce) -----------------------------------------------------------------------
    CommandSpec(
        "customer.upsert",
        "crm",
        {
            "customer": "the canonical customer (customer.v1 JSON) with its hub id",
            "key": "the Account's external id: {field, value}",
            "instance": _INSTANCE,
        },
        "crm.customer.upserted",
        "Create or update the Account (and its contacts) by external id.",
    ),
    CommandSpec(
        "order.create",
        "crm",
        {
            "order": _ORDER,
            "order_key": "the Order's external id (the channel's order id, else the hub id)",
            "account": "the Account's external id: {field, value}",
            "instance": _INSTANCE,
        },
        "crm.order.created",
        "Create and activate the Order with its items, keyed by order_key (never twice).",
    ),
    CommandSpec(
        "order.update_status",
        "crm",
        {
            "order_key": "the Order's external id",
            "status?": "a Status picklist value (from the flow's crm_statuses)",
            "shipment?": "{tracking_number, carrier, shipped_at}",
            "instance": _INSTANCE,
        },
        "crm.order.status_updated",
        "Set the Order's status and shipment details (update only).",
    ),
    CommandSpec(
        "case.open",
        "crm",
        {
            "exception_id": "the exception's stable id (the Case's external id)",
            "subject": "one line",
            "description": "what happened",
            "account?": "the Account's external id: {field, value}",
            "instance": _INSTANCE,
        },
        "crm.case.opened",
        "Open (or find) the service Case about an order exception.",
    ),
    # channel (Shopify) ----------------------------------------------------------------------
    CommandSpec(
        "fulfillment.create",
        "channel",
        {
            "order_id": "the channel's numeric order id",
            "shipments": "[{tracking_number, company, url?, lines? [{line_item_id, quantity}]}]",
            "notify_customer": "bool",
            "instance": _INSTANCE,
        },
        "channel.fulfillment.created",
        "Create a fulfilment with tracking (one per tracking number, never twice).",
    ),
    CommandSpec(
        "order.cancel",
        "channel",
        {
            "order_id": "the channel's numeric order id",
            "reason": "cancel reason",
            "restock": "bool",
        },
        "channel.order.cancelled",
        "Cancel the order in the channel.",
    ),
    CommandSpec(
        "order.refund",
        "channel",
        {
            "order_id": "the channel's numeric order id",
            "refund_line_items": "[{line_item_id, quantity, restock_type}] ([] for all paid)",
            "notify": "bool",
            "instance": _INSTANCE,
        },
        "channel.order.refunded",
        "Refund (part of) the order in the channel.",
    ),
    CommandSpec(
        "order.annotate",
        "channel",
        {
            "order_id": "the channel's numeric order id",
            "tags_add?": "[tag] to add to the order (present ones are left as they are)",
            "tags_remove?": "[tag] to remove from the order (absent ones are ignored)",
            "note?": "a line appended to the order's note once (marked by the idempotency key)",
            "instance": _INSTANCE,
        },
        "channel.order.annotated",
        "Tag the channel order and add a line to its note, so the storefront and service "
        "views show what the hub knows (a backorder); result: order_id, tags, note_added.",
    ),
    # warehouse (ShipStation, EDI 3PL) -------------------------------------------------------
    CommandSpec(
        "order.release",
        "warehouse",
        {"order": _ORDER, "order_key": "the hub order id (orderKey)", "instance": _INSTANCE},
        "warehouse.order.released",
        "Create the warehouse order, awaiting shipment; result: order_id.",
    ),
    CommandSpec(
        "order.cancel",
        "warehouse",
        {"order_key": "the hub order id", "order_number": "order number", "instance": _INSTANCE},
        "warehouse.order.cancelled",
        "Cancel the warehouse order (refused once shipped).",
    ),
    CommandSpec(
        "order.hold",
        "warehouse",
        {"order_key": "hub order id", "order_number": "number", "hold_until": "YYYY-MM-DD"},
        "warehouse.order.held",
        "Put the warehouse order on hold until a date.",
    ),
    CommandSpec(
        "order.unhold",
        "warehouse",
        {"order_key": "hub order id", "order_number": "number"},
        "warehouse.order.unheld",
        "Restore a held warehouse order.",
    ),
    # tracking (EasyPost) --------------------------------------------------------------------
    CommandSpec(
        "shipment.track",
        "tracking",
        {
            "tracking_code": "carrier tracking number",
            "carrier?": "carrier name",
            "instance": _INSTANCE,
        },
        "tracking.shipment.tracked",
        "Start tracking a shipment (an existing tracker is returned, never duplicated).",
    ),
)

_BY_ROLE: dict[tuple[str, str], CommandSpec] = {(s.role, s.kind): s for s in CATALOGUE}


def spec_for(kind: str, role: str | None = None) -> CommandSpec:
    """Return the catalogue entry of a kind (of one role when the kind is shared).

    Raises:
        KeyError: unknown kind, or a kind several roles serve asked without a role.
    """
    if role is not None:
        try:
            return _BY_ROLE[(role, kind)]
        except KeyError:
            raise KeyError(f"no command kind {kind!r} for role {role!r}") from None
    found = [s for s in CATALOGUE if s.kind == kind]
    if not found:
        known = ", ".join(sorted({s.kind for s in CATALOGUE}))
        raise KeyError(f"unknown command kind {kind!r}; known kinds: {known}")
    if len(found) > 1:
        roles = ", ".join(s.role for s in found)
        raise KeyError(f"command kind {kind!r} is served by several roles ({roles}): give one")
    return found[0]


def result_event_types() -> frozenset[str]:
    """Every result event type of the catalogue, plus ``command.failed``."""
    return frozenset({s.result_event for s in CATALOGUE} | {COMMAND_FAILED})


def _instance_key(payload: Mapping[str, Any]) -> str | None:
    instance = payload.get(INSTANCE_FIELD)
    if isinstance(instance, Mapping) and isinstance(instance.get("key"), str):
        return str(instance["key"])
    return None


def result_event(
    *,
    kind: str,
    role: str,
    destination: str,
    idempotency_key: str,
    payload: Mapping[str, Any],
    result: Mapping[str, Any] | None,
    correlation_id: str | None,
    time: datetime | None = None,
) -> Event:
    """Build the result event of a completed command (the worker appends it with the completion).

    The event id is derived from the idempotency key, so a completion retried after a crash
    appends the same event once.

    Args:
        kind: The command kind.
        role: The destination's role (picks the result type of a shared kind).
        destination: The system that performed it.
        idempotency_key: The command's key.
        payload: The command's payload (its ``instance`` becomes the subject).
        result: What the connector returned.
        correlation_id: The command's correlation id.
        time: When it completed (now when None).
    """
    spec = spec_for(kind, role)
    return _event(
        spec.result_event,
        kind=kind,
        destination=destination,
        idempotency_key=idempotency_key,
        payload=payload,
        extra={"result": dict(result or {})},
        correlation_id=correlation_id,
        time=time,
    )


def failure_event(
    *,
    kind: str,
    destination: str,
    idempotency_key: str,
    payload: Mapping[str, Any],
    reason: str,
    correlation_id: str | None,
    time: datetime | None = None,
) -> Event:
    """Build the ``command.failed`` event of a command that became a dead letter."""
    return _event(
        COMMAND_FAILED,
        kind=kind,
        destination=destination,
        idempotency_key=idempotency_key,
        payload=payload,
        extra={"reason": reason},
        correlation_id=correlation_id,
        time=time,
    )


def _event(
    type_: str,
    *,
    kind: str,
    destination: str,
    idempotency_key: str,
    payload: Mapping[str, Any],
    extra: Mapping[str, Any],
    correlation_id: str | None,
    time: datetime | None,
) -> Event:
    data: dict[str, Any] = {
        "command": kind,
        "destination": destination,
        "idempotency_key": idempotency_key,
        **extra,
    }
    instance = payload.get(INSTANCE_FIELD)
    if isinstance(instance, Mapping):
        data[INSTANCE_FIELD] = dict(instance)
    fields: dict[str, Any] = {}
    if time is not None:
        fields["time"] = time
    return Event(
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"crossdock:{type_}:{idempotency_key}")),
        source=RESULT_SOURCE,
        type=type_,
        subject=_instance_key(payload),
        correlationid=correlation_id or new_id(),
        data=data,
        **fields,
    )


def render_markdown() -> str:
    """Render the catalogue as the Markdown page ``docs/commands.md``."""
    rows = []
    for s in CATALOGUE:
        fields = "<br>".join(f"`{name}`: {text}" for name, text in s.payload.items())
        rows.append(f"| `{s.kind}` | {s.role} | {fields} | `{s.result_event}` | {s.description} |")
    return "\n".join(
        [
            "# Canonical command catalogue",
            "",
            "<!-- Generated from crossdock.canonical.commands.render_markdown -->",
            "",
            "A flow writes commands to the outbox; `destination` is a system name from the",
            "governance file, `kind` one of the kinds below (shared by every system of the role).",
            "A completed command appends its result event (subject: the flow instance; data:",
            "`command`, `destination`, `idempotency_key`, `instance`, `result`); a dead letter",
            f"appends `{COMMAND_FAILED}` (data: the same and `reason`).",
            "",
            "| kind | role | payload | result event | effect |",
            "|---|---|---|---|---|",
            *rows,
            "",
        ]
    )
