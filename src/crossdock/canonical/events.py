"""The catalogue of canonical event types and the schema version each one carries.

An event's `type` is one of `EventType`; its `dataschema` is the URN of the schema version named
here (``urn:crossdock:schema:order.v1``), and its `data` is the JSON form of that entity.
``docs/events.md`` is rendered from this catalogue by `render_markdown`
(``crossdock schema events docs/events.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from crossdock.canonical.envelope import schema_urn

__all__ = ["CATALOGUE", "EventSpec", "EventType", "dataschema_for", "render_markdown", "spec_for"]


class EventType(StrEnum):
    """Every canonical event type. The value is the CloudEvents `type` attribute."""

    CUSTOMER_UPSERTED = "customer.upserted"
    PRODUCT_UPDATED = "product.updated"
    PRICE_CHANGED = "price.changed"
    INVENTORY_CHANGED = "inventory.changed"
    ORDER_PLACED = "order.placed"
    ORDER_UPDATED = "order.updated"
    ORDER_CANCELLED = "order.cancelled"
    ORDER_REFUNDED = "order.refunded"
    SHIPMENT_CREATED = "shipment.created"
    SHIPMENT_UPDATED = "shipment.updated"
    INVOICE_CREATED = "invoice.created"
    INVOICE_PAID = "invoice.paid"
    RETURN_REQUESTED = "return.requested"
    RETURN_RECEIVED = "return.received"
    RETURN_REFUNDED = "return.refunded"


@dataclass(frozen=True, slots=True)
class EventSpec:
    """What an event type means and which schema version its data follows.

    Attributes:
        type: the event type.
        schema: the schema version of `data`, e.g. ``"order.v1"``.
        subject: what the CloudEvents `subject` holds for this type.
        description: when the event is emitted.
    """

    type: EventType
    schema: str
    subject: str
    description: str

    @property
    def dataschema(self) -> str:
        """The `dataschema` URN of this event type's data."""
        return schema_urn(self.schema)


def _spec(type_: EventType, schema: str, subject: str, description: str) -> EventSpec:
    return EventSpec(type_, schema, subject, description)


_T = EventType
CATALOGUE: dict[EventType, EventSpec] = {
    s.type: s
    for s in (
        _spec(
            _T.CUSTOMER_UPSERTED,
            "customer.v1",
            "customer hub id",
            "A customer or business account was created or changed in its owning system.",
        ),
        _spec(
            _T.PRODUCT_UPDATED,
            "product.v1",
            "product hub id",
            "A product or one of its variants (SKUs) was created or changed.",
        ),
        _spec(
            _T.PRICE_CHANGED,
            "price.v1",
            "price list and SKU",
            "The price of a SKU in a price list changed, or a new validity window begins.",
        ),
        _spec(
            _T.INVENTORY_CHANGED,
            "inventory_level.v1",
            "SKU at location",
            "The stock of a SKU at a location changed (absolute levels, never deltas).",
        ),
        _spec(
            _T.ORDER_PLACED,
            "order.v1",
            "order hub id",
            "A new order was placed in a channel; its totals have been checked.",
        ),
        _spec(
            _T.ORDER_UPDATED,
            "order.v1",
            "order hub id",
            "An order changed (edit, payment, fulfilment status); data is the full order.",
        ),
        _spec(
            _T.ORDER_CANCELLED,
            "order.v1",
            "order hub id",
            "An order was cancelled; data carries the cancellation reason and time.",
        ),
        _spec(
            _T.ORDER_REFUNDED,
            "order.v1",
            "order hub id",
            "Money was refunded on an order; data is the order after the refund. Returned "
            "goods travel as return events.",
        ),
        _spec(
            _T.SHIPMENT_CREATED,
            "shipment.v1",
            "shipment hub id",
            "A warehouse or 3PL shipped (part of) an order: carrier and tracking number known.",
        ),
        _spec(
            _T.SHIPMENT_UPDATED,
            "shipment.v1",
            "shipment hub id",
            "A carrier reported a new tracking status for a shipment.",
        ),
        _spec(_T.INVOICE_CREATED, "invoice.v1", "invoice hub id", "The ERP posted an invoice."),
        _spec(
            _T.INVOICE_PAID,
            "invoice.v1",
            "invoice hub id",
            "An invoice was paid in full or in part (amount_due changed).",
        ),
        _spec(
            _T.RETURN_REQUESTED,
            "return.v1",
            "return hub id",
            "A customer or service agent opened a return.",
        ),
        _spec(
            _T.RETURN_RECEIVED,
            "return.v1",
            "return hub id",
            "Returned goods arrived at the warehouse; dispositions are known.",
        ),
        _spec(
            _T.RETURN_REFUNDED,
            "return.v1",
            "return hub id",
            "The refund of a return was issued; data carries the refund.",
        ),
    )
}


def spec_for(event_type: str) -> EventSpec:
    """Return the catalogue entry of an event type.

    Raises:
        KeyError: the type is not in the catalogue.
    """
    try:
        return CATALOGUE[EventType(event_type)]
    except ValueError:
        known = ", ".join(t.value for t in EventType)
        raise KeyError(f"unknown event type {event_type!r}; known types: {known}") from None


def dataschema_for(event_type: str) -> str:
    """Return the `dataschema` URN that events of `event_type` must carry."""
    return spec_for(event_type).dataschema


def render_markdown() -> str:
    """Render the catalogue as the Markdown page ``docs/events.md``."""
    rows = [
        f"| `{s.type.value}` | `{s.schema}` | {s.subject} | {s.description} |"
        for s in CATALOGUE.values()
    ]
    return "\n".join(
        [
            "# Canonical event catalogue",
            "",
            "<!-- Generated from crossdock.canonical.events; refresh with:",
            "     crossdock schema events docs/events.md -->",
            "",
            "Every event is a CloudEvents 1.0 envelope (`crossdock.canonical.envelope.Event`) with",
            "`correlationid` and `causationid`. `type` is one of the types below; `dataschema` is",
            "`urn:crossdock:schema:<schema>`; `data` is the JSON form of that schema version",
            '(money as `{"amount": "12.30", "currency": "EUR"}`, never a float). The JSON',
            "Schemas are in [`schemas/`](schemas/).",
            "",
            "| type | schema | subject | emitted when |",
            "|---|---|---|---|",
            *rows,
            "",
        ]
    )
