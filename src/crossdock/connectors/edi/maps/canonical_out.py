"""Canonical order -> 940 release instruction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Literal

from crossdock.canonical.address import Address as CanonicalAddress
from crossdock.canonical.order import Order
from crossdock.connectors.edi.maps._common import Address
from crossdock.connectors.edi.maps.w940 import Carrier, OrderLine, WarehouseShippingOrder


def address_from_canonical(address: CanonicalAddress) -> Address:
    """An N1-loop party from a canonical address (name, else first + last, else company)."""
    person = " ".join(p for p in (address.first_name, address.last_name) if p)
    name = address.name or person or address.company or ""
    lines = tuple(p for p in (address.line1, address.line2) if p)
    if address.company and address.company != name:
        lines = (address.company, *lines)
    return Address(
        name=name,
        lines=lines,
        city=address.city or "",
        state=address.region_code or address.region or "",
        postal_code=address.postal_code or "",
        country=address.country_code or "",
    )


def order_to_940(
    order: Order,
    *,
    purpose: Literal["N", "R", "F"] = "N",
    depositor: Address | None = None,
    warehouse: Address | None = None,
    carrier: Carrier | None = None,
    requested_ship_date: date | None = None,
    upc_by_sku: Mapping[str, str] | None = None,
) -> WarehouseShippingOrder:
    """The release instruction for the shippable lines of a canonical order.

    Lines that sell gift cards or do not require shipping are left out. W0502 is the order
    number, W0503 its purchase order; each line's ``line_id`` goes to N9*LI so the 945 can
    name it back.

    Raises:
        ValueError: The order has no shipping address, a shippable line has no SKU, or no line
            is shippable.
    """
    if order.shipping_address is None:
        raise ValueError(f"order {order.ref} has no shipping address to release to")
    lines = []
    for line in order.lines:
        if line.gift_card or not line.requires_shipping:
            continue
        if not line.sku:
            raise ValueError(f"order {order.ref} line {line.line_id} has no SKU the 3PL can pick")
        upc = (upc_by_sku or {}).get(line.sku, "")
        description = " ".join(p for p in (line.title, line.variant_title) if p)
        lines.append(
            OrderLine(
                line.line_id, line.sku, Decimal(line.quantity), upc=upc, description=description
            )
        )
    if not lines:
        raise ValueError(f"order {order.ref} has no line that needs shipping")
    bill_to = order.billing_address
    return WarehouseShippingOrder(
        depositor_order_number=order.number,
        ship_to=address_from_canonical(order.shipping_address),
        lines=tuple(lines),
        purpose=purpose,
        po_number=order.purchase_order or "",
        bill_to=address_from_canonical(bill_to) if bill_to is not None else None,
        depositor=depositor,
        warehouse=warehouse,
        requested_ship_date=requested_ship_date,
        carrier=carrier,
        notes=(order.note,) if order.note else (),
    )
