"""Pure mapping of the canonical command payloads (`crossdock.canonical.commands`) to this
connector's own payloads (see `crossdock.connectors.businesscentral.bodies`).

- ``customer.upsert`` ``{customer}`` (customer.v1): found by email in Business Central, which
  numbers the customer itself (a hub id does not fit its Code[20] ``number``).
- ``sales_order.create`` ``{order, order_id, customer_id?}`` (order.v1): the customer is the
  one with the order's email (``customer_number`` resolved by the connector). A line with a
  SKU is an Item line; a custom line (no SKU) and a sold gift card are G/L Account lines on
  the configured accounts, and so is each shipping charge: description, quantity and price
  are the order's, so the sales order's amounts are the order's.
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
    "ship_to",
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


def ship_to(address: Mapping[str, Any]) -> JSONObject | None:
    """The ``ship_to`` object of a payload (name, contact, lines, city...) of a canonical
    address, parts it lacks left out."""
    return _address(address)


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


def _order_line(
    line: Mapping[str, Any], index: int, custom_account: str | None, gift_card_account: str | None
) -> JSONObject:
    if line.get("gift_card") and gift_card_account:
        entry: JSONObject = {"account": gift_card_account}
    elif line.get("sku"):
        entry = {"sku": line["sku"]}
    elif custom_account:
        entry = {"account": custom_account}
    else:
        raise PermanentFailureError(
            f"sales_order.create: order line {line.get('line_id', index)} has no SKU and no "
            "custom_account is configured"
        )
    entry["quantity"] = str(line["quantity"])
    price = line.get("unit_price")
    if isinstance(price, Mapping) and price.get("amount") is not None:
        entry["unit_price"] = str(price["amount"])
    if _text(line, "title"):
        entry["description"] = line["title"]
    return entry


def sales_order_payload(
    payload: Mapping[str, Any],
    customer_number: str,
    *,
    custom_account: str | None = None,
    gift_card_account: str | None = None,
    shipping_account: str | None = None,
) -> JSONObject:
    """The ``sales_order.create`` payload of a canonical order for `customer_number`.

    Args:
        payload: The canonical command payload.
        customer_number: The Business Central customer's number.
        custom_account: G/L account of lines without a SKU (None: such a line is refused).
        gift_card_account: G/L (liability) account of sold gift cards (None: a gift card line
            is an Item line by its SKU).
        shipping_account: G/L account of shipping charges (None: they are left off).

    Raises:
        PermanentFailureError: No order id, or a line that cannot be mapped.
    """
    order: Mapping[str, Any] = payload["order"]
    order_id = _text(payload, "order_id") or _text(order, "id")
    if order_id is None:
        raise PermanentFailureError("sales_order.create: no order_id and no order.id")
    lines = [
        _order_line(line, index, custom_account, gift_card_account)
        for index, line in enumerate(order.get("lines") or [])
        if isinstance(line, Mapping)
    ]
    shipping_lines = (order.get("shipping_lines") or []) if shipping_account else []
    for shipping in shipping_lines:
        price = shipping.get("price") if isinstance(shipping, Mapping) else None
        if not isinstance(price, Mapping) or price.get("amount") is None:
            continue
        lines.append(
            {
                "account": shipping_account,
                "quantity": "1",
                "unit_price": str(price["amount"]),
                "description": _text(shipping, "title") or "Shipping",
            }
        )
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
