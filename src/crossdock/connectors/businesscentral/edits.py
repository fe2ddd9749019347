"""Pure parts of ``sales_order.update``: canonical changes to header fields and line edits.

The flow sends canonical changes (`crossdock.canonical.commands`):

- ``shipping_address`` (address.v1 JSON) becomes the order's ``shipTo*`` fields, every one of
  them written (a part the new address lacks is emptied, not left from the old one);
- ``lines`` (``[{sku, quantity, line_id?, unit_price?, title?}]``, each line's new quantity)
  becomes a plan of line edits (`line_plan`), matched to the order's Item lines by SKU (a
  SKU on several lines has its units spread over them, `spread_units`): a new quantity is a
  PATCH of the line, 0 deletes a line nothing of which shipped (or lowers it to what
  shipped), a SKU the order lacks is a new line. Quantities the order already has plan
  nothing, so performing the plan again changes nothing.

Any other key is taken as a Business Central header field, as given (callers that speak
Business Central's names).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from crossdock.connectorkit import PermanentFailureError
from crossdock.connectors.businesscentral.canonical import ship_to

__all__ = ["SHIP_TO_FIELDS", "LineEdit", "header_changes", "line_plan", "spread_units"]

JSONObject = dict[str, Any]

SHIP_TO_FIELDS = (
    ("name", "shipToName"),
    ("contact", "shipToContact"),
    ("line1", "shipToAddressLine1"),
    ("line2", "shipToAddressLine2"),
    ("city", "shipToCity"),
    ("region", "shipToState"),
    ("postal_code", "shipToPostCode"),
    ("country_code", "shipToCountry"),
)
"""The ship-to parts of a sales order header, by the name `ship_to` gives each part."""


@dataclass(frozen=True)
class LineEdit:
    """One edit of a sales order's lines.

    Attributes:
        action: ``set`` the line's quantity, ``delete`` the line, ``add`` a line.
        line: The line as read (``set``, ``delete``).
        quantity: The new quantity (``set``; None: lower it to what is shipped).
        body: The new line (``add``).
    """

    action: Literal["set", "delete", "add"]
    line: JSONObject = field(default_factory=dict)
    quantity: Decimal | None = None
    body: JSONObject = field(default_factory=dict)


def header_changes(changes: Mapping[str, Any]) -> JSONObject:
    """The header fields to PATCH: ``shipping_address`` as ``shipTo*``, other keys (except
    ``lines``) as given.

    Raises:
        PermanentFailureError: ``shipping_address`` is not an address object.
    """
    out: JSONObject = {}
    for key, value in changes.items():
        if key == "lines":
            continue
        if key == "shipping_address":
            if not isinstance(value, Mapping):
                raise PermanentFailureError("sales_order.update: shipping_address is no address")
            parts = ship_to(value) or {}
            out.update({name: str(parts.get(part) or "") for part, name in SHIP_TO_FIELDS})
        else:
            out[key] = value
    return out


def _number(value: Any, where: str) -> Decimal:
    if isinstance(value, bool):
        raise PermanentFailureError(f"sales_order.update: {where} must be a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise PermanentFailureError(f"sales_order.update: {where} must be a number") from None
    if not number.is_finite() or number < 0:
        raise PermanentFailureError(f"sales_order.update: {where} must be a number >= 0")
    return number


def line_plan(order: Mapping[str, Any], changes: Any) -> list[LineEdit]:
    """The line edits that give the order's SKUs (Item lines) the units of ``changes``.

    A SKU's units are spread over its lines (`spread_units`): a line left with nothing and
    nothing shipped is deleted, another one set to its new quantity.

    Raises:
        PermanentFailureError: Not a list, a change without a SKU (Business Central lines do
            not carry the hub's line ids), or a bad quantity.
    """
    if not isinstance(changes, list) or not changes:
        raise PermanentFailureError("sales_order.update: lines must be a non-empty list")
    lines = [ln for ln in order.get("salesOrderLines") or [] if ln.get("lineType") == "Item"]
    plan: list[LineEdit] = []
    for index, change in enumerate(changes):
        sku = change.get("sku") if isinstance(change, Mapping) else None
        if not isinstance(sku, str) or not sku:
            raise PermanentFailureError(
                f"sales_order.update: Business Central cannot take changes of lines without "
                f"a sku (lines[{index}])"
            )
        quantity = _number(change.get("quantity"), f"lines[{index}].quantity")
        found = [ln for ln in lines if ln.get("lineObjectNumber") == sku]
        if not found:
            if quantity > 0:
                plan.append(LineEdit("add", body=_new_line(sku, quantity, change)))
            continue
        held = [(_decimal(ln, "quantity"), _decimal(ln, "shippedQuantity")) for ln in found]
        for line, units in zip(found, spread_units(held, quantity), strict=True):
            if units == _decimal(line, "quantity"):
                continue
            if units == 0 and _decimal(line, "shippedQuantity") == 0:
                plan.append(LineEdit("delete", line=dict(line)))
            else:
                plan.append(LineEdit("set", line=dict(line), quantity=units))
    return plan


def spread_units(lines: Sequence[tuple[Decimal, Decimal]], target: Decimal) -> list[Decimal]:
    """New quantities of the lines carrying one SKU, so that they total `target`.

    Args:
        lines: Each line's quantity and shipped quantity, in line order.
        target: The SKU's new total.

    Returns:
        Per line: an increase goes to the last line; a decrease is taken from the last line
        first, never below what a line shipped (0 leaves each line what it shipped). A target
        above 0 but below what is shipped in all leaves the rest of the decrease on the last
        line (below its shipped quantity), for Business Central to refuse in its own words.
    """
    out = [quantity for quantity, _ in lines]
    total = sum(out, Decimal(0))
    if target >= total:
        out[-1] += target - total
        return out
    cut = total - target
    for index in reversed(range(len(out))):
        take = min(cut, max(Decimal(0), out[index] - lines[index][1]))
        out[index] -= take
        cut -= take
    if target > 0:
        out[-1] -= cut
    return out


def _decimal(line: Mapping[str, Any], key: str) -> Decimal:
    return Decimal(str(line.get(key) or 0))


def _new_line(sku: str, quantity: Decimal, change: Mapping[str, Any]) -> JSONObject:
    body: JSONObject = {"lineType": "Item", "lineObjectNumber": sku, "quantity": quantity}
    price = change.get("unit_price")
    amount = price.get("amount") if isinstance(price, Mapping) else price
    if amount is not None:
        body["unitPrice"] = _number(amount, f"unit_price of {sku}")
    title = change.get("title")
    if isinstance(title, str) and title.strip():
        body["description"] = title.strip()[:100]
    return body
