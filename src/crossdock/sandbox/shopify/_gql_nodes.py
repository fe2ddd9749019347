"""GraphQL object nodes over the shop state: dicts whose callables graphql-core resolves."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLError

from crossdock.sandbox.shopify._ids import gid, parse_gid
from crossdock.sandbox.shopify._state import ShopState, level_gid, split_tags

QUANTITY_NAMES = {
    "available",
    "committed",
    "damaged",
    "incoming",
    "on_hand",
    "quality_control",
    "reserved",
    "safety_stock",
}
Node = dict[str, Any]


def utc(stamp: str | None) -> str | None:
    """A REST timestamp (with offset) as GraphQL writes it (UTC, ``Z``)."""
    if stamp is None:
        return None
    return datetime.fromisoformat(stamp).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def location_node(state: ShopState, location_id: int) -> Node | None:
    """A Location."""
    loc = state.locations.get(location_id)
    if loc is None:
        return None
    return {
        "id": loc["admin_graphql_api_id"],
        "legacyResourceId": str(loc["id"]),
        "name": loc["name"],
        "isActive": loc["active"],
    }


def item_node(state: ShopState, item_id: int) -> Node | None:
    """An InventoryItem."""
    item = state.items.get(item_id)
    if item is None:
        return None

    def level(_: Any, locationId: str) -> Node | None:  # noqa: N803 - GraphQL name
        location_id = parse_gid(locationId, "Location")
        if location_id is None or location_id not in state.locations:
            return None
        return level_node(state, item_id, location_id)

    return {
        "id": item["admin_graphql_api_id"],
        "legacyResourceId": str(item_id),
        "sku": item["sku"],
        "tracked": item["tracked"],
        "inventoryLevel": level,
        "variant": lambda _info: variant_node(state, item["variant_id"]),
    }


def level_node(state: ShopState, item_id: int, location_id: int) -> Node:
    """An InventoryLevel."""

    def quantities(_: Any, names: list[str]) -> list[Node]:
        unknown = [n for n in names if n not in QUANTITY_NAMES]
        if unknown:
            raise GraphQLError(f"Invalid quantity names: {', '.join(unknown)}")
        stamp = utc(state.levels[(item_id, location_id)]["updated_at"])
        return [
            {
                "id": f"gid://shopify/InventoryQuantity/{location_id}?inventory_item_id={item_id}"
                f"&name={name}",
                "name": name,
                "quantity": (
                    state.quantity(item_id, location_id, name)
                    if name in {"available", "committed", "on_hand"}
                    else 0
                ),
                "updatedAt": stamp,
            }
            for name in names
        ]

    level = state.levels.get((item_id, location_id)) or {"updated_at": state.stamp()}
    return {
        "id": level_gid(item_id, location_id),
        "quantities": quantities,
        "location": lambda _info: location_node(state, location_id),
        "item": lambda _info: item_node(state, item_id),
        "updatedAt": utc(level["updated_at"]),
    }


def variant_node(state: ShopState, variant_id: int) -> Node | None:
    """A ProductVariant."""
    variant = state.variants.get(variant_id)
    if variant is None:
        return None
    return {
        "id": variant["admin_graphql_api_id"],
        "legacyResourceId": str(variant_id),
        "sku": variant["sku"],
        "title": variant["title"],
        "price": variant["price"],
        "compareAtPrice": variant["compare_at_price"],
        "barcode": variant["barcode"],
        "inventoryQuantity": variant["inventory_quantity"],
        "inventoryItem": lambda _info: item_node(state, variant["inventory_item_id"]),
        "product": lambda _info: product_node(state, variant["product_id"]),
        "updatedAt": utc(variant["updated_at"]),
    }


def _connection(nodes: list[Node | None], prefix: str) -> Node:
    present = [n for n in nodes if n is not None]
    return {
        "nodes": present,
        "edges": [{"cursor": cursor(prefix, str(n["id"])), "node": n} for n in present],
    }


def product_node(state: ShopState, product_id: int) -> Node | None:
    """A Product."""
    product = state.products.get(product_id)
    if product is None:
        return None

    def variants(_: Any, first: int | None = None) -> Node:
        chosen = product["variants"][: first or None]
        return _connection([variant_node(state, v["id"]) for v in chosen], "variant")

    return {
        "id": product["admin_graphql_api_id"],
        "legacyResourceId": str(product_id),
        "title": product["title"],
        "handle": product["handle"],
        "status": str(product["status"]).upper(),
        "vendor": product["vendor"],
        "tags": [t.strip() for t in product["tags"].split(",") if t.strip()],
        "updatedAt": utc(product["updated_at"]),
        "variants": variants,
    }


def _money_bag(money_set: dict[str, Any]) -> Node:
    return {
        "shopMoney": {
            "amount": money_set["shop_money"]["amount"],
            "currencyCode": money_set["shop_money"]["currency_code"],
        },
        "presentmentMoney": {
            "amount": money_set["presentment_money"]["amount"],
            "currencyCode": money_set["presentment_money"]["currency_code"],
        },
    }


def fulfillment_order_node(state: ShopState, fo: dict[str, Any]) -> Node:
    """A FulfillmentOrder."""

    def line_items(_: Any, first: int | None = None) -> Node:
        nodes: list[Node | None] = [
            {
                "id": gid("FulfillmentOrderLineItem", ln["id"]),
                "totalQuantity": ln["quantity"],
                "remainingQuantity": ln["fulfillable_quantity"],
                "sku": state.items[ln["inventory_item_id"]]["sku"]
                if ln["inventory_item_id"]
                else None,
                "lineItemId": gid("LineItem", ln["line_item_id"]),
            }
            for ln in fo["line_items"][: first or None]
        ]
        return _connection(nodes, "fulfillment-order-line-item")

    return {
        "id": fo["admin_graphql_api_id"],
        "status": str(fo["status"]).upper(),
        "requestStatus": str(fo["request_status"]).upper(),
        "lineItems": line_items,
    }


_FINANCIAL = {"partially_paid": "PARTIALLY_PAID", "partially_refunded": "PARTIALLY_REFUNDED"}
_FULFILMENT = {None: "UNFULFILLED", "partial": "PARTIALLY_FULFILLED", "fulfilled": "FULFILLED"}


def order_node(state: ShopState, order_id: int) -> Node | None:
    """An Order."""
    order = state.orders.get(order_id)
    if order is None:
        return None

    def fulfillment_orders(_: Any, first: int | None = None) -> Node:
        fos = state.fulfillment_orders_of(order_id)[: first or None]
        return _connection([fulfillment_order_node(state, fo) for fo in fos], "fulfillment-order")

    financial = order["financial_status"]
    return {
        "__typename": "Order",
        "id": order["admin_graphql_api_id"],
        "legacyResourceId": str(order_id),
        "name": order["name"],
        "email": order["email"] or None,
        "note": order.get("note"),
        "tags": split_tags(order.get("tags")),
        "createdAt": utc(order["created_at"]),
        "updatedAt": utc(order["updated_at"]),
        "processedAt": utc(order["processed_at"]),
        "cancelledAt": utc(order["cancelled_at"]),
        "cancelReason": order["cancel_reason"].upper() if order["cancel_reason"] else None,
        "closedAt": utc(order["closed_at"]),
        "test": order["test"],
        "currencyCode": order["currency"],
        "presentmentCurrencyCode": order["presentment_currency"],
        "displayFinancialStatus": _FINANCIAL.get(financial, str(financial).upper()),
        "displayFulfillmentStatus": _FULFILMENT[order["fulfillment_status"]],
        "totalPriceSet": _money_bag(order["total_price_set"]),
        "subtotalPriceSet": _money_bag(order["subtotal_price_set"]),
        "totalTaxSet": _money_bag(order["total_tax_set"]),
        "totalDiscountsSet": _money_bag(order["total_discounts_set"]),
        "totalShippingPriceSet": _money_bag(order["total_shipping_price_set"]),
        "currentTotalPriceSet": _money_bag(order["current_total_price_set"]),
        "fulfillmentOrders": fulfillment_orders,
    }


def cursor(prefix: str, ident: str) -> str:
    """An opaque cursor."""
    return base64.urlsafe_b64encode(f"{prefix}:{ident}".encode()).decode().rstrip("=")


def decode_cursor(value: str, prefix: str) -> str:
    """The id inside a cursor made by `cursor`.

    Raises:
        GraphQLError: The cursor is not one of ours.
    """
    try:
        padded = value + "=" * (-len(value) % 4)
        kind, _, ident = base64.urlsafe_b64decode(padded).decode().partition(":")
    except ValueError as exc:
        raise GraphQLError(f"Invalid cursor for arguments 'after' or 'before': {value}") from exc
    if kind != prefix:
        raise GraphQLError(f"Invalid cursor for arguments 'after' or 'before': {value}")
    return ident


_FILTER = re.compile(r"(updated_at|created_at|processed_at):(>=|<=|>|<)?'?\"?([^'\" ]+)'?\"?")


def order_filter(query: str | None) -> list[tuple[str, str, datetime]]:
    """The time conditions of a Shopify search query (``updated_at:>='2026-01-01T00:00:00Z'``)."""
    conditions = []
    for field, op, value in _FILTER.findall(query or ""):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise GraphQLError(f"Invalid date in search query: {value}") from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        conditions.append((field, op or "=", moment))
    return conditions


def matches(order: dict[str, Any], conditions: list[tuple[str, str, datetime]]) -> bool:
    """Whether an order meets every time condition."""
    for field, op, moment in conditions:
        value = datetime.fromisoformat(order[field])
        ok = {
            ">=": value >= moment,
            "<=": value <= moment,
            ">": value > moment,
            "<": value < moment,
            "=": value == moment,
        }[op]
        if not ok:
            return False
    return True
