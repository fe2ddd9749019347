"""The shop's in-memory state and the operations on it (no HTTP here)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from crossdock.sandbox.kit import Scenario
from crossdock.sandbox.shopify._errors import ShopError, to_decimal
from crossdock.sandbox.shopify._ids import IdMaker, gid
from crossdock.sandbox.shopify._money import quantize
from crossdock.sandbox.shopify._orders import OrderContext, OrderSpecError, build_order
from crossdock.sandbox.shopify._refunds import Payments


def _not_found() -> ShopError:
    return ShopError(404, {"errors": "Not Found"})


class ShopState:
    """Products, stock, orders, fulfilment orders, fulfilments and refunds of one shop."""

    def __init__(self, scenario: Scenario, seed: int, now: Callable[[], datetime] | None = None):
        data = copy.deepcopy(scenario.data)
        self.shop: dict[str, Any] = data.get("shop", {})
        self.currency: str = self.shop.get("currency", "USD")
        self.tz = ZoneInfo(self.shop.get("timezone", "UTC"))
        self._now = now or (lambda: datetime.now(self.tz))
        self.ids = IdMaker(seed)
        self.locations: dict[int, dict[str, Any]] = {}
        self.location_keys: dict[str, int] = {}
        self.products: dict[int, dict[str, Any]] = {}
        self.variants: dict[int, dict[str, Any]] = {}
        self.items: dict[int, dict[str, Any]] = {}
        self.levels: dict[tuple[int, int], dict[str, Any]] = {}
        self.orders: dict[int, dict[str, Any]] = {}
        self.fulfillment_orders: dict[int, dict[str, Any]] = {}
        self.fulfillments: dict[int, dict[str, Any]] = {}
        self.next_order_number = int(self.shop.get("first_order_number", 1001))
        self.payments = Payments(self)
        for loc in data.get("locations", [{"key": "main", "name": "Shop location"}]):
            self._add_location(loc)
        for product in data.get("products", []):
            self._add_product(product)
        for spec in data.get("orders", []):
            self.create_order(spec)

    def now(self) -> datetime:
        """The shop's wall time, in its own timezone."""
        return self._now().astimezone(self.tz)

    def stamp(self) -> str:
        """The shop's time as Shopify writes it (ISO 8601 with the offset)."""
        return self.now().isoformat(timespec="seconds")

    # -- seeding ---------------------------------------------------------------------------

    def _add_location(self, raw: dict[str, Any]) -> None:
        loc_id = self.ids.next()
        self.location_keys[raw.get("key", str(loc_id))] = loc_id
        self.locations[loc_id] = {
            "id": loc_id,
            "name": raw.get("name", "Location"),
            "address1": raw.get("address1"),
            "city": raw.get("city"),
            "country_code": raw.get("country_code"),
            "active": True,
            "legacy": False,
            "admin_graphql_api_id": gid("Location", loc_id),
        }

    def _add_product(self, raw: dict[str, Any]) -> None:
        pid = self.ids.next()
        stamp = self.stamp()
        product: dict[str, Any] = {
            "id": pid,
            "admin_graphql_api_id": gid("Product", pid),
            "title": raw["title"],
            "body_html": raw.get("body_html", ""),
            "vendor": raw.get("vendor", ""),
            "product_type": raw.get("product_type", ""),
            "handle": raw.get("handle") or _handle(raw["title"]),
            "status": raw.get("status", "active"),
            "tags": raw.get("tags", ""),
            "created_at": stamp,
            "updated_at": stamp,
            "published_at": stamp,
            "options": [{"name": "Title", "position": 1, "values": []}],
            "images": [],
            "image": None,
            "media": [],
            "variants": [],
        }
        self.products[pid] = product
        for position, raw_variant in enumerate(raw.get("variants", []), start=1):
            self._add_variant(product, raw_variant, position)
        product["options"][0]["values"] = [v["title"] for v in product["variants"]]

    def _add_variant(self, product: dict[str, Any], raw: dict[str, Any], position: int) -> None:
        vid, item_id = self.ids.next(), self.ids.next()
        variant = {
            "id": vid,
            "admin_graphql_api_id": gid("ProductVariant", vid),
            "product_id": product["id"],
            "title": raw.get("title", "Default Title"),
            "sku": raw.get("sku", ""),
            "price": str(quantize(Decimal(str(raw["price"])), self.currency)),
            "compare_at_price": raw.get("compare_at_price"),
            "position": position,
            "inventory_item_id": item_id,
            "inventory_quantity": 0,
            "old_inventory_quantity": 0,
            "inventory_policy": raw.get("inventory_policy", "deny"),
            "inventory_management": "shopify",
            "barcode": raw.get("barcode"),
            "grams": raw.get("grams", 0),
            "weight": raw.get("weight", 0.0),
            "weight_unit": "kg",
            "option1": raw.get("title", "Default Title"),
            "option2": None,
            "option3": None,
            "taxable": raw.get("taxable", True),
            "requires_shipping": raw.get("requires_shipping", True),
            "gift_card": raw.get("gift_card", False),
            "created_at": product["created_at"],
            "updated_at": product["updated_at"],
        }
        product["variants"].append(variant)
        self.variants[vid] = variant
        self.items[item_id] = {
            "id": item_id,
            "sku": variant["sku"],
            "tracked": True,
            "variant_id": vid,
            "admin_graphql_api_id": gid("InventoryItem", item_id),
        }
        for key, quantity in raw.get("stock", {}).items():
            self._level(item_id, self.location_keys[key])["available"] = int(quantity)
        self._sync_variant(variant)

    # -- inventory -------------------------------------------------------------------------

    def _level(self, item_id: int, location_id: int) -> dict[str, Any]:
        key = (item_id, location_id)
        if key not in self.levels:
            self.levels[key] = {
                "inventory_item_id": item_id,
                "location_id": location_id,
                "available": 0,
                "committed": 0,
                "updated_at": self.stamp(),
                "admin_graphql_api_id": level_gid(item_id, location_id),
            }
        return self.levels[key]

    def _sync_variant(self, variant: dict[str, Any]) -> None:
        total = sum(
            lvl["available"]
            for (item, _), lvl in self.levels.items()
            if item == variant["inventory_item_id"]
        )
        variant["old_inventory_quantity"] = variant["inventory_quantity"]
        variant["inventory_quantity"] = total

    def level_payload(self, item_id: int, location_id: int) -> dict[str, Any]:
        """The REST InventoryLevel (also the ``inventory_levels/update`` payload)."""
        lvl = self._level(item_id, location_id)
        return {
            "inventory_item_id": item_id,
            "location_id": location_id,
            "available": lvl["available"],
            "updated_at": lvl["updated_at"],
            "admin_graphql_api_id": lvl["admin_graphql_api_id"],
        }

    def check_level_target(self, item_id: int, location_id: int) -> None:
        """Refuse an unknown item or location the way REST does."""
        if item_id not in self.items:
            raise ShopError(422, {"errors": ["Inventory item does not exist"]})
        if location_id not in self.locations:
            raise ShopError(422, {"errors": ["Location does not exist"]})

    def quantity(self, item_id: int, location_id: int, name: str = "available") -> int:
        """A quantity of a level (``available``, ``committed`` or ``on_hand``)."""
        lvl = self._level(item_id, location_id)
        if name == "on_hand":
            return int(lvl["available"] + lvl["committed"])
        return int(lvl[name])

    def set_available(self, item_id: int, location_id: int, available: int) -> int:
        """Set the available quantity; returns the delta."""
        lvl = self._level(item_id, location_id)
        delta = available - lvl["available"]
        lvl["available"] = available
        lvl["updated_at"] = self.stamp()
        self._sync_variant(self.variants[self.items[item_id]["variant_id"]])
        return int(delta)

    # -- orders ----------------------------------------------------------------------------

    def create_order(self, spec: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[int, int]]]:
        """Place an order as a storefront checkout would; returns it and the levels it moved."""
        ctx = OrderContext(
            ids=self.ids,
            now=self.now(),
            currency=self.currency,
            order_number=self.next_order_number,
            variants_by_id=self.variants,
            variants_by_sku={v["sku"]: v for v in self.variants.values() if v["sku"]},
            products_by_id=self.products,
        )
        try:
            order = build_order(spec, ctx)
        except OrderSpecError as exc:
            raise ShopError(422, {"errors": {"order": [str(exc)]}}) from exc
        location_id = next(iter(self.locations))
        self._check_stock(order, location_id)
        self.next_order_number += 1
        self.orders[order["id"]] = order
        moved = []
        for line in order["line_items"]:
            if line["variant_id"] is None:
                continue
            item_id = self.variants[line["variant_id"]]["inventory_item_id"]
            lvl = self._level(item_id, location_id)
            lvl["available"] -= line["quantity"]
            lvl["updated_at"] = self.stamp()
            self._sync_variant(self.variants[line["variant_id"]])
            moved.append((item_id, location_id))
        self._open_fulfillment_order(order, location_id)
        self.payments.record_sales(order, spec)
        return order, moved

    def _check_stock(self, order: dict[str, Any], location_id: int) -> None:
        # A checkout cannot oversell a variant whose policy is "deny".
        wanted: dict[int, int] = {}
        for line in order["line_items"]:
            if line["variant_id"] is not None:
                wanted[line["variant_id"]] = wanted.get(line["variant_id"], 0) + line["quantity"]
        for variant_id, quantity in wanted.items():
            variant = self.variants[variant_id]
            if variant["inventory_policy"] != "deny" or variant["gift_card"]:
                continue
            if self.quantity(variant["inventory_item_id"], location_id) < quantity:
                raise ShopError(
                    422,
                    {"errors": {"order": [f"{variant['sku'] or variant_id}: not enough stock"]}},
                )

    def in_stock_skus(self, at_least: int = 3) -> list[str]:
        """SKUs a storefront can still sell ``at_least`` of at the first location."""
        location_id = next(iter(self.locations))
        return [
            v["sku"]
            for v in self.variants.values()
            if v["sku"]
            and not v["gift_card"]
            and self.quantity(v["inventory_item_id"], location_id) >= at_least
        ]

    def order(self, order_id: int) -> dict[str, Any]:
        """One order, or a 404."""
        if order_id not in self.orders:
            raise _not_found()
        return self.orders[order_id]

    def touch(self, order: dict[str, Any]) -> None:
        """Bump ``updated_at`` (every change to an order does)."""
        order["updated_at"] = self.stamp()

    def update_order(self, order_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """``PUT /orders/{id}.json``: change the shipping address, email, phone, note or tags.

        Raises:
            ShopError: 404 for an unknown order, 422 for a field that cannot be changed here.
        """
        order = self.order(order_id)
        editable = {"shipping_address", "email", "phone", "note", "tags", "buyer_accepts_marketing"}
        unknown = sorted(set(changes) - editable - {"id"})
        if unknown:
            raise ShopError(422, {"errors": {unknown[0]: ["cannot be changed"]}})
        address = changes.get("shipping_address")
        if address is not None and not isinstance(address, dict):
            raise ShopError(422, {"errors": {"shipping_address": ["is invalid"]}})
        if address is not None:
            merged = dict(order.get("shipping_address") or {})
            merged.update(address)
            if merged.get("first_name") or merged.get("last_name"):
                parts = (merged.get("first_name"), merged.get("last_name"))
                merged["name"] = " ".join(p for p in parts if p)
            order["shipping_address"] = merged
            for fo in self.fulfillment_orders.values():
                if fo["order_id"] == order_id and fo["status"] in {"open", "scheduled"}:
                    fo["destination"] = merged
        for field in editable - {"shipping_address", "tags"}:
            if field in changes:
                order[field] = changes[field]
        if "tags" in changes:
            order["tags"] = join_tags(split_tags(changes["tags"]))
        self.touch(order)
        return order

    def cancel_order(self, order_id: int, reason: str, restock: bool) -> dict[str, Any]:
        """Cancel an order (422 if it is already cancelled)."""
        order = self.order(order_id)
        if order["cancelled_at"] is not None:
            raise ShopError(422, {"error": "Order has already been cancelled"})
        if order["fulfillment_status"] == "fulfilled":
            raise ShopError(422, {"error": "Cannot cancel a fulfilled order"})
        reasons = {"customer", "declined", "fraud", "inventory", "other", "staff"}
        if reason not in reasons:
            raise ShopError(422, {"errors": {"reason": ["is not included in the list"]}})
        order["cancelled_at"] = self.stamp()
        order["cancel_reason"] = reason
        order["closed_at"] = order["cancelled_at"]
        order["financial_status"] = "voided" if order["financial_status"] != "paid" else "refunded"
        for fo in self.fulfillment_orders.values():
            if fo["order_id"] == order_id and fo["status"] in {"open", "scheduled"}:
                fo["status"] = "closed"
        if restock:
            location_id = next(iter(self.locations))
            for line in order["line_items"]:
                if line["variant_id"] is not None and line["fulfillable_quantity"]:
                    item_id = self.variants[line["variant_id"]]["inventory_item_id"]
                    current = self.quantity(item_id, location_id)
                    self.set_available(item_id, location_id, current + line["fulfillable_quantity"])
        self.touch(order)
        return order

    # -- fulfilment ------------------------------------------------------------------------

    def _open_fulfillment_order(self, order: dict[str, Any], location_id: int) -> None:
        shippable = [ln for ln in order["line_items"] if ln["requires_shipping"]]
        if not shippable:
            return
        fo_id = self.ids.next()
        self.fulfillment_orders[fo_id] = {
            "id": fo_id,
            "admin_graphql_api_id": gid("FulfillmentOrder", fo_id),
            "shop_id": 548380009,
            "order_id": order["id"],
            "assigned_location_id": location_id,
            "request_status": "unsubmitted",
            "status": "open",
            "supported_actions": ["create_fulfillment", "move"],
            "destination": order.get("shipping_address"),
            "fulfill_at": order["created_at"],
            "created_at": order["created_at"],
            "updated_at": order["created_at"],
            "line_items": [
                {
                    "id": self.ids.next(),
                    "shop_id": 548380009,
                    "fulfillment_order_id": fo_id,
                    "quantity": ln["quantity"],
                    "line_item_id": ln["id"],
                    "inventory_item_id": (
                        self.variants[ln["variant_id"]]["inventory_item_id"]
                        if ln["variant_id"]
                        else None
                    ),
                    "fulfillable_quantity": ln["quantity"],
                    "variant_id": ln["variant_id"],
                }
                for ln in shippable
            ],
        }

    def fulfillment_orders_of(self, order_id: int) -> list[dict[str, Any]]:
        """The fulfilment orders of an order."""
        self.order(order_id)
        return [fo for fo in self.fulfillment_orders.values() if fo["order_id"] == order_id]

    def create_fulfillment(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /fulfillments.json``: fulfil fulfilment-order lines with one tracking number."""
        groups = body.get("line_items_by_fulfillment_order")
        if not isinstance(groups, list) or not groups:
            raise ShopError(400, {"errors": {"line_items_by_fulfillment_order": "Required"}})
        picks: list[tuple[dict[str, Any], dict[str, Any], int]] = []
        for group in groups:
            fo = self.fulfillment_orders.get(int(group.get("fulfillment_order_id", 0)))
            if fo is None:
                raise ShopError(404, {"errors": "Not Found"})
            if fo["status"] not in {"open", "in_progress"}:
                msg = f"Fulfillment order {fo['id']} has an unfulfillable status= {fo['status']}."
                raise ShopError(422, {"errors": [msg]})
            wanted = group.get("fulfillment_order_line_items")
            lines = {ln["id"]: ln for ln in fo["line_items"]}
            if not wanted:
                picks += [(fo, ln, ln["fulfillable_quantity"]) for ln in fo["line_items"]]
                continue
            for want in wanted:
                line = lines.get(int(want.get("id", 0)))
                quantity = int(want.get("quantity", 0))
                if line is None:
                    raise ShopError(422, {"errors": ["Invalid fulfillment order line item id."]})
                if quantity < 1 or quantity > line["fulfillable_quantity"]:
                    raise ShopError(
                        422, {"errors": ["Invalid fulfillment order line item quantity requested."]}
                    )
                picks.append((fo, line, quantity))
        picks = [p for p in picks if p[2] > 0]
        if not picks:
            raise ShopError(422, {"errors": ["Fulfillment order has no remaining quantity."]})
        order = self.order(picks[0][0]["order_id"])
        return self._record_fulfillment(order, picks, body.get("tracking_info") or {})

    def _record_fulfillment(
        self,
        order: dict[str, Any],
        picks: list[tuple[dict[str, Any], dict[str, Any], int]],
        tracking: dict[str, Any],
    ) -> dict[str, Any]:
        order_lines = {ln["id"]: ln for ln in order["line_items"]}
        f_lines = []
        for fo, line, quantity in picks:
            line["fulfillable_quantity"] -= quantity
            order_line = order_lines[line["line_item_id"]]
            order_line["fulfillable_quantity"] -= quantity
            order_line["fulfillment_status"] = (
                "fulfilled" if order_line["fulfillable_quantity"] == 0 else "partial"
            )
            fo["status"] = (
                "closed"
                if all(ln["fulfillable_quantity"] == 0 for ln in fo["line_items"])
                else "in_progress"
            )
            fo["updated_at"] = self.stamp()
            f_lines.append(dict(order_line) | {"quantity": quantity})
        numbers, urls = _tracking_lists(tracking)
        f_id = self.ids.next()
        count = sum(1 for f in self.fulfillments.values() if f["order_id"] == order["id"]) + 1
        fulfillment = {
            "id": f_id,
            "admin_graphql_api_id": gid("Fulfillment", f_id),
            "order_id": order["id"],
            "status": "success",
            "created_at": self.stamp(),
            "updated_at": self.stamp(),
            "service": "manual",
            "location_id": picks[0][0]["assigned_location_id"],
            "shipment_status": None,
            "name": f"{order['name']}.{count}",
            "tracking_company": tracking.get("company"),
            "tracking_number": numbers[0] if numbers else None,
            "tracking_numbers": numbers,
            "tracking_url": urls[0] if urls else None,
            "tracking_urls": urls,
            "line_items": f_lines,
        }
        self.fulfillments[f_id] = fulfillment
        order["fulfillments"].append(fulfillment)
        shippable = [ln for ln in order["line_items"] if ln["requires_shipping"]]
        done = all(ln["fulfillable_quantity"] == 0 for ln in shippable)
        order["fulfillment_status"] = "fulfilled" if done else "partial"
        self.touch(order)
        return fulfillment

    def update_tracking(self, fulfillment_id: int, tracking: dict[str, Any]) -> dict[str, Any]:
        """``POST /fulfillments/{id}/update_tracking.json``."""
        fulfillment = self.fulfillments.get(fulfillment_id)
        if fulfillment is None:
            raise _not_found()
        numbers, urls = _tracking_lists(tracking)
        fulfillment.update(
            tracking_company=tracking.get("company", fulfillment["tracking_company"]),
            tracking_number=numbers[0] if numbers else None,
            tracking_numbers=numbers,
            tracking_url=urls[0] if urls else None,
            tracking_urls=urls,
            updated_at=self.stamp(),
        )
        self.touch(self.order(fulfillment["order_id"]))
        return fulfillment

    # -- refunds ---------------------------------------------------------------------------

    # -- catalogue -------------------------------------------------------------------------

    def product(self, product_id: int) -> dict[str, Any]:
        """A product with its variants (stock quantities current), or a 404."""
        if product_id not in self.products:
            raise _not_found()
        product = self.products[product_id]
        product["variant_gids"] = [
            {"admin_graphql_api_id": v["admin_graphql_api_id"], "updated_at": v["updated_at"]}
            for v in product["variants"]
        ]
        return product

    def update_variant(self, variant_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Change a variant's price, compare-at price, SKU or barcode."""
        if variant_id not in self.variants:
            raise _not_found()
        variant = self.variants[variant_id]
        if "compare_at_price" in changes and changes["compare_at_price"] is None:
            variant["compare_at_price"] = None
        for field in ("price", "compare_at_price"):
            if field in changes and changes[field] is not None:
                try:
                    value = Decimal(str(changes[field]))
                except ArithmeticError as exc:
                    raise ShopError(422, {"errors": {field: ["is not a number"]}}) from exc
                if value < 0:
                    raise ShopError(422, {"errors": {field: ["must be >= 0"]}})
                variant[field] = str(quantize(value, self.currency))
        for field in ("sku", "barcode", "inventory_policy"):
            if field in changes:
                variant[field] = changes[field]
                if field == "sku":
                    self.items[variant["inventory_item_id"]]["sku"] = changes[field]
        variant["updated_at"] = self.stamp()
        self.products[variant["product_id"]]["updated_at"] = variant["updated_at"]
        return variant

    def update_product(self, product_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Change a product's title, description, tags, status, or its variants."""
        product = self.product(product_id)
        own = {v["id"] for v in product["variants"]}
        for raw in changes.get("variants") or []:  # check every variant before changing any
            if not isinstance(raw, dict) or raw.get("id") not in own:
                raise ShopError(422, {"errors": {"variants": ["variant not in product"]}})
            for field in ("price", "compare_at_price"):
                if raw.get(field) is not None and to_decimal(raw[field], field) < 0:
                    raise ShopError(422, {"errors": {field: ["must be >= 0"]}})
        for field in ("title", "body_html", "vendor", "product_type", "tags", "status"):
            if field in changes:
                product[field] = changes[field]
        for raw in changes.get("variants") or []:
            self.update_variant(int(raw["id"]), raw)
        product["updated_at"] = self.stamp()
        return self.product(product_id)


def split_tags(tags: Any) -> list[str]:
    """An order's or product's tags as a list: a comma-separated string (REST) or a list of
    strings, each of which may itself hold commas (GraphQL takes both); duplicates dropped."""
    items = [tags] if isinstance(tags, str) else list(tags or [])
    found: list[str] = []
    for item in items:
        for tag in str(item).split(","):
            if tag.strip() and tag.strip() not in found:
                found.append(tag.strip())
    return found


def join_tags(tags: list[str]) -> str:
    """Tags as REST writes them: ``"a, b"``."""
    return ", ".join(tags)


def level_gid(item_id: int, location_id: int) -> str:
    """An InventoryLevel GID (keyed by location, with the item in the query string)."""
    return f"gid://shopify/InventoryLevel/{location_id}?inventory_item_id={item_id}"


def _handle(title: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in title.lower()).split())


def _tracking_lists(tracking: dict[str, Any]) -> tuple[list[str], list[str]]:
    numbers = list(tracking.get("numbers") or [])
    if not numbers and tracking.get("number"):
        numbers = [str(tracking["number"])]
    urls = list(tracking.get("urls") or [])
    if not urls and tracking.get("url"):
        urls = [str(tracking["url"])]
    if not urls:
        made = (_tracking_url(tracking.get("company"), n) for n in numbers)
        urls = [u for u in made if u]
    return numbers, urls


def _tracking_url(company: str | None, number: str | None) -> str | None:
    if not number:
        return None
    known = {
        "UPS": "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums={}",
        "FedEx": "https://www.fedex.com/fedextrack/?trknbr={}",
        "USPS": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
        "DHL Express": "https://www.dhl.com/en/express/tracking.html?AWB={}",
    }
    template = known.get(company or "")
    return template.format(number) if template else None
