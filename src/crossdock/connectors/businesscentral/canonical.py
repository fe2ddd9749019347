"""Pure mapping of the canonical command payloads (`crossdock.canonical.commands`) to this
connector's own payloads (see `crossdock.connectors.businesscentral.bodies`).

- ``customer.upsert`` ``{customer}`` (customer.v1): found by email in Business Central, which
  numbers the customer itself (a hub id does not fit its Code[20] ``number``).
- ``sales_order.create`` ``{order, order_id, customer_id?}`` (order.v1): the customer is the
  one with the order's email (``customer_number`` resolved by the connector).
- ``fulfillment.record`` ``{shipment, order_id, shipped_to_date?}``: Business Central posts
  cumulative quantities. ``shipped_to_date`` (``[{sku, quantity_shipped}]``, every shipment of
  the order so far) makes a retry safe; without it the shipment's units are added to what the
  order has shipped already.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from crossdock.connectorkit import PermanentFailureError

__all__ = [
    "customer_payload",
    "is_canonical",
    "order_email",
    "sales_order_payload",
    "shipment_targets",
]

JSONObject = dict[str, Any]


def is_canonical(payload: Mapping[str, Any], field: str) -> bool:
    """True when the payload carries the canonical object `field` (``customer``, ``order``)."""
    return isinstance(payload.get(field), Mapping)


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return str(value) if value is not None and str(value) != "" else None


def _address(address: Any) -> JSONObject | None:
    if not isinstance(address, Mapping):
        return None
    name = " ".join(
        str(p) for p in (address.get("first_name"), address.get("last_name")) if p
    ) or _text(address, "name")
    out: JSONObject = {"name": name, "contact": name}
    for key in ("line1", "line2", "city", "postal_code", "country_code"):
        out[key] = _text(address, key)
    out["region"] = _text(address, "region_code") or _text(address, "region")
    return {k: v for k, v in out.items() if v is not None}


def customer_payload(payload: Mapping[str, Any]) -> JSONObject:
    """The ``customer.upsert`` payload of a canonical customer.

    Raises:
        PermanentFailureError: The customer has no email (the only key Business Central can
            find it by again).
    """
    customer: Mapping[str, Any] = payload["customer"]
    email = _text(customer, "email")
    if email is None:
        raise PermanentFailureError("customer.upsert: the customer has no email to be found by")
    account = customer.get("account")
    person = " ".join(str(p) for p in (customer.get("first_name"), customer.get("last_name")) if p)
    name = (_text(account, "name") if isinstance(account, Mapping) else None) or person or email
    out: JSONObject = {
        "email": email,
        "display_name": name,
        "type": "Company" if customer.get("kind") == "business" else "Person",
    }
    if _text(customer, "phone"):
        out["phone"] = customer["phone"]
    addresses = customer.get("addresses")
    if isinstance(addresses, list) and addresses:
        address = _address(addresses[0])
        if address:
            out["address"] = {k: v for k, v in address.items() if k not in ("name", "contact")}
    return out


def order_email(payload: Mapping[str, Any]) -> str | None:
    """The email of the order's customer (the key of its Business Central customer)."""
    order: Mapping[str, Any] = payload["order"]
    customer = order.get("customer")
    if isinstance(customer, Mapping) and _text(customer, "email"):
        return str(customer["email"]).strip().lower()
    email = _text(order, "email")
    return email.strip().lower() if email else None


def sales_order_payload(payload: Mapping[str, Any], customer_number: str) -> JSONObject:
    """The ``sales_order.create`` payload of a canonical order for `customer_number`.

    Raises:
        PermanentFailureError: No order id, or no line with a SKU to ship.
    """
    order: Mapping[str, Any] = payload["order"]
    order_id = _text(payload, "order_id") or _text(order, "id")
    if order_id is None:
        raise PermanentFailureError("sales_order.create: no order_id and no order.id")
    lines = []
    for line in order.get("lines") or []:
        if not isinstance(line, Mapping) or not line.get("sku") or line.get("gift_card"):
            continue
        price = line.get("unit_price")
        entry: JSONObject = {"sku": line["sku"], "quantity": str(line["quantity"])}
        if isinstance(price, Mapping) and price.get("amount") is not None:
            entry["unit_price"] = str(price["amount"])
        if _text(line, "title"):
            entry["description"] = line["title"]
        lines.append(entry)
    out: JSONObject = {
        "order_id": order_id,
        "customer_number": customer_number,
        "currency": _text(order, "currency"),
        "email": order_email(payload),
        "phone": _text(order, "phone"),
        "lines": lines,
    }
    placed = _text(order, "placed_at")
    if placed:
        out["order_date"] = placed[:10]
    ship_to = _address(order.get("shipping_address"))
    if ship_to:
        out["ship_to"] = ship_to
    return {k: v for k, v in out.items() if v is not None}


def _quantities(lines: Any, field: str, where: str) -> dict[str, Decimal]:
    if not isinstance(lines, list):
        raise PermanentFailureError(f"fulfillment.record: {where} must be a list")
    out: dict[str, Decimal] = {}
    for index, line in enumerate(lines):
        if not isinstance(line, Mapping) or not line.get("sku"):
            raise PermanentFailureError(f"fulfillment.record: {where}[{index}] needs a sku")
        try:
            quantity = Decimal(str(line.get(field)))
        except ArithmeticError:
            raise PermanentFailureError(
                f"fulfillment.record: {where}[{index}].{field} must be a number"
            ) from None
        out[str(line["sku"])] = out.get(str(line["sku"]), Decimal(0)) + quantity
    return out


def shipment_targets(
    payload: Mapping[str, Any], shipped: Mapping[str, Decimal]
) -> dict[str, Decimal]:
    """Cumulative quantity shipped per SKU once the payload's shipment is recorded.

    Args:
        payload: The ``fulfillment.record`` payload.
        shipped: What the order has shipped already, per SKU (used without
            ``shipped_to_date``).

    Raises:
        PermanentFailureError: The shipment has no lines, or a line lacks a SKU or quantity.
    """
    if payload.get("shipped_to_date") is not None:
        return _quantities(payload["shipped_to_date"], "quantity_shipped", "shipped_to_date")
    shipment = payload.get("shipment")
    if not isinstance(shipment, Mapping) or not shipment.get("lines"):
        raise PermanentFailureError("fulfillment.record needs a shipment with lines")
    this = _quantities(shipment["lines"], "quantity", "shipment.lines")
    return {sku: shipped.get(sku, Decimal(0)) + quantity for sku, quantity in this.items()}
