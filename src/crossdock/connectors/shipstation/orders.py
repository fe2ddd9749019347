"""Canonical order to ShipStation ``createorder`` body (pure functions, no I/O).

The ``orderKey`` is the hub's order id (or a key the caller gives, such as the Shopify order
id): ShipStation updates the order that already has that key, so releasing an order twice, or
retrying after a timeout, leaves one order. Only lines that need shipping go to the warehouse.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

from crossdock.canonical.address import Address
from crossdock.canonical.money import Money
from crossdock.canonical.order import Order

__all__ = [
    "ORDER_STATUSES",
    "PACIFIC",
    "address_to_shipstation",
    "createorder_body",
    "from_shipstation_time",
    "items_to_shipstation",
    "to_shipstation_time",
]

PACIFIC: Final = ZoneInfo("America/Los_Angeles")
"""ShipStation V1 reads and writes times as Pacific wall time without an offset."""

ORDER_STATUSES: Final = frozenset(
    {
        "awaiting_payment",
        "awaiting_shipment",
        "pending_fulfillment",
        "shipped",
        "on_hold",
        "cancelled",
    }
)


def to_shipstation_time(moment: datetime) -> str:
    """``2026-11-20T00:15:00.0000000``: an aware instant as Pacific wall time."""
    local = moment.astimezone(PACIFIC).replace(tzinfo=None)
    return local.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"


def from_shipstation_time(text: str) -> datetime:
    """Read a ShipStation time (Pacific wall time; an explicit offset wins) as an aware instant.

    Raises:
        ValueError: The text is not an ISO 8601 date or time.
    """
    value = text.strip()
    if "." in value:  # seven fractional digits: Python reads at most six
        head, _, tail = value.partition(".")
        digits = "".join(c for c in tail if c.isdigit())
        rest = tail[len(digits) :]
        value = f"{head}.{digits[:6].ljust(6, '0')}{rest}"
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=PACIFIC)


def _amount(money: Money | None) -> Decimal | None:
    return money.amount if money is not None else None


def address_to_shipstation(address: Address) -> dict[str, Any]:
    """A canonical address as a ShipStation Address (names kept in full Unicode)."""
    name = address.name or " ".join(p for p in (address.first_name, address.last_name) if p)
    return {
        "name": name or address.company or "",
        "company": address.company,
        "street1": address.line1,
        "street2": address.line2,
        "street3": None,
        "city": address.city,
        "state": address.region_code or address.region,
        "postalCode": address.postal_code,
        "country": address.country_code,
        "phone": address.phone,
        "residential": None,
    }


def items_to_shipstation(order: Order) -> list[dict[str, Any]]:
    """The lines that need shipping, keyed by ``lineItemKey`` = the canonical line id."""
    items = []
    for line in order.lines:
        if not line.requires_shipping or line.gift_card:
            continue
        name = f"{line.title} - {line.variant_title}" if line.variant_title else line.title
        items.append(
            {
                "lineItemKey": line.line_id,
                "sku": line.sku,
                "name": name,
                "quantity": line.quantity,
                "unitPrice": line.unit_price.amount,
                "taxAmount": line.tax_total.amount if line.tax_lines else None,
                "adjustment": False,
            }
        )
    return items


def _shipping_amount(order: Order) -> Decimal:
    if order.totals.shipping is not None:
        return order.totals.shipping.amount
    return sum((s.net.amount for s in order.shipping_lines), Decimal("0"))


def createorder_body(
    order: Order,
    *,
    order_key: str,
    order_status: str = "awaiting_shipment",
    store_id: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``POST /orders/createorder`` body that releases ``order`` to the warehouse.

    Args:
        order: The canonical order.
        order_key: ShipStation's ``orderKey`` (the upsert key).
        order_status: ``awaiting_shipment`` to release, ``on_hold`` or ``cancelled`` to stop it.
        store_id: The ShipStation store (``advancedOptions.storeId``).
        extra: More top-level fields, given last (e.g. ``holdUntilDate``).

    Raises:
        ValueError: An unknown status, no line that needs shipping, or no shipping address.
    """
    if order_status not in ORDER_STATUSES:
        raise ValueError(f"unknown ShipStation orderStatus {order_status!r}")
    items = items_to_shipstation(order)
    if not items and order_status != "cancelled":
        raise ValueError(f"order {order.ref} has no line that needs shipping")
    ship_to = order.shipping_address
    if ship_to is None:
        raise ValueError(f"order {order.ref} has no shipping address")
    bill_to = order.billing_address or ship_to
    paid = order.financial_status in {"paid", "partially_refunded", "refunded"}
    advanced: dict[str, Any] = {"customField1": order.channel}
    if store_id is not None:
        advanced["storeId"] = store_id
    body: dict[str, Any] = {
        "orderNumber": order.number,
        "orderKey": order_key,
        "orderDate": to_shipstation_time(order.placed_at),
        "paymentDate": to_shipstation_time(order.placed_at) if paid else None,
        "orderStatus": order_status,
        "customerUsername": order.email,
        "customerEmail": order.email,
        "billTo": address_to_shipstation(bill_to),
        "shipTo": address_to_shipstation(ship_to),
        "items": items,
        "amountPaid": order.totals.total.amount if paid else Decimal("0"),
        "taxAmount": _amount(order.totals.tax),
        "shippingAmount": _shipping_amount(order),
        "customerNotes": order.note,
        "requestedShippingService": order.shipping_lines[0].title if order.shipping_lines else None,
        "advancedOptions": advanced,
    }
    body.update(extra or {})
    return body
