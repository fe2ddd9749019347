"""Pure mapping from canonical entities to NetSuite record bodies, and back for statuses.

References use external ids: a customer is ``{"externalId": <hub customer id>}``, an item is
``{"externalId": <SKU>}`` (the usual convention for items an integration manages). Money goes
as exact JSON numbers (`Decimal`).

Lines that name no stocked item are mapped the way NetSuite integrations do: a custom line
(no SKU: a Shopify custom item) goes to a configured non-inventory sale item, a sold gift card
to a configured gift-card (liability) item, each with the line's title as its description and
its own rate and quantity, so the amounts stay exactly the order's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from crossdock.canonical.address import Address
from crossdock.canonical.customer import Customer
from crossdock.canonical.order import Order

__all__ = [
    "DEFAULT_CUSTOM_ITEM",
    "DEFAULT_GIFT_CARD_ITEM",
    "FULFILMENT_BY_STATUS",
    "allocate_lines",
    "customer_body",
    "line_changes",
    "record_id_from_location",
    "sales_order_body",
    "shipping_address_body",
    "spread_units",
]

DEFAULT_CUSTOM_ITEM = "CROSSDOCK-CUSTOM"
"""External id of the non-inventory sale item that carries lines without a SKU."""
DEFAULT_GIFT_CARD_ITEM = "CROSSDOCK-GIFTCARD"
"""External id of the item (posting to the gift-card liability) that carries sold gift cards."""

FULFILMENT_BY_STATUS: Mapping[str, str] = {
    "A": "unfulfilled",
    "B": "unfulfilled",
    "D": "partial",
    "E": "partial",
    "F": "fulfilled",
    "G": "fulfilled",
    "H": "fulfilled",
}
"""salesOrder status id to the canonical fulfilment status."""


class MappingFailedError(ValueError):
    """A canonical entity cannot become a NetSuite record (a missing id or SKU)."""


def record_id_from_location(location: str | None) -> str:
    """The internal id at the end of a ``Location`` header (``.../salesOrder/123`` -> ``123``).

    Raises:
        MappingFailedError: No Location header.
    """
    if not location:
        raise MappingFailedError("NetSuite answered 204 without a Location header")
    return location.rstrip("/").rsplit("/", 1)[-1]


def customer_body(customer: Customer) -> dict[str, Any]:
    """The customer record body for ``PUT customer/eid:<customer.id>``."""
    body: dict[str, Any] = {}
    if customer.kind == "business" or customer.account is not None:
        name = customer.account.name if customer.account else None
        body["isPerson"] = False
        body["companyName"] = name or " ".join(
            p for p in (customer.first_name, customer.last_name) if p
        )
    else:
        body["isPerson"] = True
        body["firstName"] = customer.first_name
        body["lastName"] = customer.last_name or customer.email or "(unknown)"
    if customer.email:
        body["email"] = customer.email
    if customer.phone:
        body["phone"] = customer.phone
    if customer.currency:
        body["currency"] = {"refName": customer.currency}
    return {k: v for k, v in body.items() if v is not None}


def sales_order_body(
    order: Order,
    *,
    customer_external_id: str,
    location_id: str | None = None,
    custom_item: str | None = None,
    gift_card_item: str | None = None,
) -> dict[str, Any]:
    """The salesOrder body for ``PUT salesOrder/eid:<order.id>``.

    Args:
        order: The canonical order.
        customer_external_id: The customer's external id (its hub id).
        location_id: The NetSuite location of every line, if one is chosen.
        custom_item: External id of the non-inventory item for lines without a SKU (None:
            such a line cannot be mapped).
        gift_card_item: External id of the item for sold gift cards (None: a gift card line
            is mapped by its SKU like any other).

    Raises:
        MappingFailedError: A line has no SKU and no custom item is configured (NetSuite
            needs an item for every line).
    """
    items = []
    for line in order.lines:
        if line.gift_card and gift_card_item:
            external = gift_card_item
        elif line.sku:
            external = line.sku
        elif custom_item:
            external = custom_item
        else:
            raise MappingFailedError(f"order {order.number} line {line.line_id} has no SKU")
        item: dict[str, Any] = {
            "item": {"externalId": external},
            "quantity": line.quantity,
            "rate": line.unit_price.amount,
            "description": line.title,
        }
        items.append(item)
    body: dict[str, Any] = {
        "entity": {"externalId": customer_external_id},
        "tranDate": order.placed_at.date().isoformat(),
        "currency": {"refName": order.currency},
        "otherRefNum": order.purchase_order or order.number,
        "memo": f"crossdock order {order.number}",
        "item": {"items": items},
    }
    if order.shipping_lines:
        body["shippingCost"] = sum((s.price.amount for s in order.shipping_lines), Decimal(0))
    if location_id is not None:
        body["location"] = {"id": location_id}
    if order.shipping_address is not None:
        body["shippingAddress"] = shipping_address_body(order.shipping_address)
    if order.email:
        body["email"] = order.email
    return body


def allocate_lines(
    order_record: Mapping[str, Any], wanted: Iterable[tuple[str, int]], *, room: str
) -> list[dict[str, int]]:
    """Spread ``(sku, quantity)`` pairs over the order's lines, in line order.

    Args:
        order_record: ``GET salesOrder/{id}?expandSubResources=true``.
        wanted: SKU and quantity pairs (a shipment's or an invoice's lines).
        room: Which quantity bounds a line: ``fulfil`` (ordered - fulfilled) or ``bill``
            (fulfilled - billed) or ``return`` (fulfilled - returned).

    Returns:
        ``[{"orderLine": n, "quantity": q}, ...]``.

    Raises:
        MappingFailedError: A SKU is not on the order, or more is wanted than it has room for.
    """
    lines = (order_record.get("item") or {}).get("items") or []
    left: dict[int, int] = {}
    for line in lines:
        quantity = int(line.get("quantity", 0))
        fulfilled = int(line.get("quantityFulfilled", 0))
        if room == "fulfil":
            left[line["line"]] = quantity - fulfilled
        elif room == "bill":
            left[line["line"]] = fulfilled - int(line.get("quantityBilled", 0))
        else:
            left[line["line"]] = fulfilled - int(line.get("quantityReturned", 0))
    picks: dict[int, int] = {}
    for sku, quantity in wanted:
        need = quantity
        for line in lines:
            if need == 0:
                break
            if (line.get("item") or {}).get("refName") != sku:
                continue
            take = min(need, left[line["line"]])
            if take > 0:
                left[line["line"]] -= take
                picks[line["line"]] = picks.get(line["line"], 0) + take
                need -= take
        if need:
            raise MappingFailedError(f"SKU {sku}: {need} more than the order has room to {room}")
    return [{"orderLine": n, "quantity": q} for n, q in sorted(picks.items())]


def line_changes(order_record: Mapping[str, Any], changes: Any) -> list[dict[str, Any]]:
    """The item sublist PATCH that gives the order's SKUs the units of ``changes``.

    Args:
        order_record: ``GET salesOrder/{id}?expandSubResources=true``.
        changes: ``[{sku, quantity, line_id?, unit_price?, title?}]``: each SKU's new units
            on the order (0 cancels what is not fulfilled yet).

    Returns:
        Only what differs: ``{"line": n, "quantity": q}`` (``isClosed: false`` reopening a
        closed line), ``{"line": n, "isClosed": true}`` for a line left with nothing and
        nothing fulfilled, and a new line (no ``line``) for a SKU the order lacks. The SKU's
        units are spread over its lines (`spread_units`). Empty when the order already has
        every quantity, so a repeat sends nothing.

    Raises:
        MappingFailedError: A change without a SKU (NetSuite lines do not carry the hub's
            line ids), or a quantity that is not a whole number >= 0.
    """
    if not isinstance(changes, list) or not changes:
        raise MappingFailedError("lines must be a non-empty list")
    lines = (order_record.get("item") or {}).get("items") or []
    out: list[dict[str, Any]] = []
    for index, change in enumerate(changes):
        sku = change.get("sku") if isinstance(change, Mapping) else None
        if not isinstance(sku, str) or not sku:
            raise MappingFailedError(
                f"NetSuite cannot take changes of lines without a sku (lines[{index}])"
            )
        quantity = change.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            raise MappingFailedError(f"lines[{index}].quantity must be a whole number >= 0")
        found = [line for line in lines if (line.get("item") or {}).get("refName") == sku]
        if not found:
            if quantity > 0:
                out.append(_added_line(sku, quantity, change))
            continue
        held = [(_units(line), int(line.get("quantityFulfilled") or 0)) for line in found]
        for line, units in zip(found, spread_units(held, quantity), strict=True):
            out.extend(_set_units(line, units))
    return out


def spread_units(lines: Sequence[tuple[int, int]], target: int) -> list[int]:
    """New units of the lines carrying one SKU, so that they total `target`.

    Args:
        lines: Each line's units now and units fulfilled, in line order.
        target: The SKU's new total.

    Returns:
        Per line: an increase goes to the last line; a decrease is taken from the last line
        first, never below what a line fulfilled (0 leaves each line what it fulfilled). A
        target above 0 but below what is fulfilled in all leaves the rest of the decrease on
        the last line (below its fulfilled units), for the ERP to refuse in its own words.
    """
    out = [units for units, _ in lines]
    total = sum(out)
    if target >= total:
        out[-1] += target - total
        return out
    cut = total - target
    for index in reversed(range(len(out))):
        take = min(cut, max(0, out[index] - lines[index][1]))
        out[index] -= take
        cut -= take
    if target > 0:
        out[-1] -= cut
    return out


def _units(line: Mapping[str, Any]) -> int:
    """A line's units: what it orders, or, closed, what it fulfilled."""
    if line.get("isClosed"):
        return int(line.get("quantityFulfilled") or 0)
    return int(line.get("quantity") or 0)


def _set_units(line: Mapping[str, Any], units: int) -> list[dict[str, Any]]:
    """The sublist change that leaves `line` with `units` (none when it has them)."""
    fulfilled = int(line.get("quantityFulfilled") or 0)
    if units == _units(line):
        return []
    if units == 0 and fulfilled == 0:
        return [{"line": line["line"], "isClosed": True}]
    change: dict[str, Any] = {"line": line["line"]}
    if int(line.get("quantity") or 0) != units:
        change["quantity"] = units
    if line.get("isClosed"):
        change["isClosed"] = False
    return [change]


def _added_line(sku: str, quantity: int, change: Mapping[str, Any]) -> dict[str, Any]:
    line: dict[str, Any] = {"item": {"externalId": sku}, "quantity": quantity}
    price = change.get("unit_price")
    amount = price.get("amount") if isinstance(price, Mapping) else price
    if amount is not None:
        line["rate"] = Decimal(str(amount))
    if isinstance(change.get("title"), str) and change["title"]:
        line["description"] = change["title"]
    return line


def shipping_address_body(address: Address) -> dict[str, Any]:
    """The ``shippingAddress`` subrecord of a sales order (NetSuite's address field names)."""
    names = [address.first_name, address.last_name]
    addressee = address.name or " ".join(n for n in names if n) or address.company
    fields = {
        "addressee": addressee,
        "attention": address.company if addressee != address.company else None,
        "addr1": address.line1,
        "addr2": address.line2,
        "city": address.city,
        "state": address.region_code or address.region,
        "zip": address.postal_code,
        "country": address.country_code,
        "addrPhone": address.phone,
    }
    return {name: value for name, value in fields.items() if value}
