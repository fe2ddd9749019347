"""Order validation and shaping: what ``POST /orders/createorder`` accepts and what it returns."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

from crossdock.sandbox.shipstation._errors import ShipStationError, invalid

PACIFIC: Final = ZoneInfo("America/Los_Angeles")
"""ShipStation V1 writes its timestamps in Pacific time, without an offset."""

ORDER_STATUSES: Final = (
    "awaiting_payment",
    "awaiting_shipment",
    "pending_fulfillment",
    "shipped",
    "on_hold",
    "cancelled",
)
LOCKED_STATUSES: Final = frozenset({"shipped", "cancelled"})
"""Statuses the API no longer modifies (a createorder on such an order changes nothing)."""

REQUIRED: Final = ("orderNumber", "orderDate", "orderStatus", "billTo", "shipTo")
_ADDRESS_FIELDS: Final = (
    "name",
    "company",
    "street1",
    "street2",
    "street3",
    "city",
    "state",
    "postalCode",
    "country",
    "phone",
    "residential",
)
_ORDER_FIELDS: Final = (
    "paymentDate",
    "shipByDate",
    "customerId",
    "customerUsername",
    "customerEmail",
    "amountPaid",
    "customerNotes",
    "internalNotes",
    "gift",
    "giftMessage",
    "paymentMethod",
    "requestedShippingService",
    "carrierCode",
    "serviceCode",
    "packageCode",
    "confirmation",
    "weight",
    "dimensions",
    "insuranceOptions",
    "internationalOptions",
    "advancedOptions",
    "tagIds",
    "holdUntilDate",
)


def ss_timestamp(moment: datetime) -> str:
    """``2026-11-27T08:14:58.1230000``: Pacific wall time with seven fractional digits."""
    local = moment.astimezone(PACIFIC).replace(tzinfo=None)
    return local.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"


def _number(value: Any) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def validate_order(body: Any, prefix: str = "apiOrder") -> dict[str, Any]:
    """Check a createorder body the way ShipStation's model validation does.

    Raises:
        ShipStationError: 400 with ``ModelState`` naming every field in error.
    """
    if not isinstance(body, dict):
        raise invalid({prefix: ["The request body must be a JSON Order object."]})
    problems: dict[str, list[str]] = {}
    for name in REQUIRED:
        value = body.get(name)
        if value is None or value == "":
            problems[f"{prefix}.{name}"] = [f"The {name} field is required."]
    for name in ("billTo", "shipTo"):
        if name in body and body[name] is not None and not isinstance(body[name], dict):
            problems[f"{prefix}.{name}"] = [f"The {name} field must be an Address object."]
    status = body.get("orderStatus")
    if status and status not in ORDER_STATUSES:
        problems[f"{prefix}.orderStatus"] = [f'Error converting value "{status}" to OrderStatus.']
    for name in ("orderNumber", "orderKey", "orderDate"):
        if body.get(name) is not None and not isinstance(body[name], str):
            problems[f"{prefix}.{name}"] = [f"The {name} field must be a string."]
    items = body.get("items")
    if items is not None and not isinstance(items, list):
        problems[f"{prefix}.items"] = ["The items field must be an array."]
    for index, item in enumerate(items if isinstance(items, list) else []):
        where = f"{prefix}.items[{index}]"
        if not isinstance(item, dict):
            problems[where] = ["An item must be an object."]
            continue
        qty = item.get("quantity")
        if qty is not None and (not isinstance(qty, int) or isinstance(qty, bool) or qty < 0):
            problems[f"{where}.quantity"] = ["The quantity must be a whole number, 0 or more."]
        price = item.get("unitPrice")
        if price is not None and not _number(price):
            problems[f"{where}.unitPrice"] = ["The unitPrice must be a number."]
    for name in ("amountPaid", "taxAmount", "shippingAmount"):
        if body.get(name) is not None and not _number(body[name]):
            problems[f"{prefix}.{name}"] = [f"The {name} must be a number."]
    if problems:
        raise invalid(problems)
    return body


def address(data: Mapping[str, Any] | None, *, ship_to: bool = False) -> dict[str, Any] | None:
    """An Address with every field ShipStation returns (missing ones null)."""
    if data is None:
        return None
    shaped = {name: data.get(name) for name in _ADDRESS_FIELDS}
    if ship_to:
        shaped["addressVerified"] = data.get("addressVerified", "Address not yet validated")
    return shaped


def shape_item(item: Mapping[str, Any], item_id: int, stamp: str) -> dict[str, Any]:
    """An OrderItem as ShipStation returns it."""
    return {
        "orderItemId": item_id,
        "lineItemKey": item.get("lineItemKey"),
        "sku": item.get("sku"),
        "name": item.get("name"),
        "imageUrl": item.get("imageUrl"),
        "weight": item.get("weight"),
        "quantity": item.get("quantity", 1),
        "unitPrice": item.get("unitPrice", Decimal("0")),
        "taxAmount": item.get("taxAmount"),
        "shippingAmount": item.get("shippingAmount"),
        "warehouseLocation": item.get("warehouseLocation"),
        "options": list(item.get("options") or []),
        "productId": item.get("productId"),
        "fulfillmentSku": item.get("fulfillmentSku"),
        "adjustment": bool(item.get("adjustment", False)),
        "upc": item.get("upc"),
        "createDate": stamp,
        "modifyDate": stamp,
    }


def order_total(order: Mapping[str, Any]) -> Decimal:
    """Items (units x price) plus tax plus shipping, as ShipStation computes ``orderTotal``."""
    total = Decimal("0")
    for item in order["items"]:
        if not item["adjustment"]:
            total += Decimal(item["quantity"]) * Decimal(item["unitPrice"] or 0)
    total += Decimal(order.get("taxAmount") or 0) + Decimal(order.get("shippingAmount") or 0)
    return total


def apply_fields(order: dict[str, Any], body: Mapping[str, Any]) -> None:
    """Copy the writable fields of ``body`` onto ``order`` (a create or an update)."""
    for name in ("orderNumber", "orderDate", "orderStatus"):
        order[name] = body[name]
    order["billTo"] = address(body["billTo"])
    order["shipTo"] = address(body["shipTo"], ship_to=True)
    for name in _ORDER_FIELDS:
        if name in body:
            order[name] = body[name]
    order["taxAmount"] = body.get("taxAmount", order.get("taxAmount"))
    order["shippingAmount"] = body.get("shippingAmount", order.get("shippingAmount"))


def new_order(order_id: int, order_key: str, stamp: str) -> dict[str, Any]:
    """An empty order with every field ShipStation returns."""
    order: dict[str, Any] = {
        "orderId": order_id,
        "orderNumber": None,
        "orderKey": order_key,
        "orderDate": None,
        "createDate": stamp,
        "modifyDate": stamp,
        "orderStatus": None,
        "customerId": None,
        "billTo": None,
        "shipTo": None,
        "items": [],
        "orderTotal": Decimal("0"),
        "taxAmount": None,
        "shippingAmount": None,
        "gift": False,
        "confirmation": "none",
        "shipDate": None,
        "holdUntilDate": None,
        "userId": None,
        "externallyFulfilled": False,
        "externallyFulfilledBy": None,
        "labelMessages": None,
    }
    for name in _ORDER_FIELDS:
        order.setdefault(name, None)
    return order


def refuse_locked(order: Mapping[str, Any], action: str) -> ShipStationError:
    """The 400 for an action on a shipped or cancelled order."""
    return ShipStationError(
        400,
        {
            "Message": (
                f"Order {order['orderId']} is {order['orderStatus']}; it cannot be {action}."
            )
        },
    )
