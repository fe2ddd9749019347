"""The in-memory account: orders (upserted by ``orderKey``), shipments, batches and webhooks."""

from __future__ import annotations

import itertools
import math
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from crossdock.sandbox.shipstation._errors import ShipStationError, invalid, not_found
from crossdock.sandbox.shipstation._orders import (
    LOCKED_STATUSES,
    PACIFIC,
    apply_fields,
    new_order,
    order_total,
    refuse_locked,
    shape_item,
    ss_timestamp,
    validate_order,
)

DEFAULT_CARRIERS: tuple[tuple[str, str], ...] = (
    ("ups", "ups_ground"),
    ("fedex", "fedex_ground"),
    ("stamps_com", "usps_priority_mail"),
)
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class Upsert:
    """The outcome of one createorder.

    Attributes:
        order: The order as stored now.
        created: A new order was made (False: an existing ``orderKey`` matched).
        changed: The stored order changed (False for a shipped or cancelled order).
    """

    order: dict[str, Any]
    created: bool
    changed: bool


def _now() -> datetime:
    return datetime.now(UTC)


class ShipStationState:
    """One ShipStation account's data.

    Args:
        data: The scenario data (``orders`` to pre-load, ``carriers``, ``warehouse_id``).
        seed: Seeds ids, tracking numbers and carrier choices.
    """

    def __init__(self, data: Mapping[str, Any], seed: int) -> None:
        self.rng = random.Random(f"shipstation:{seed}")
        self._order_ids = itertools.count(210_000_000 + seed % 1000 * 1000)
        self._item_ids = itertools.count(330_000_000 + seed % 1000 * 1000)
        self._shipment_ids = itertools.count(540_000_000 + seed % 1000 * 1000)
        self._batch_ids = itertools.count(76_000_000 + seed % 1000 * 1000)
        self.carriers = (
            tuple((str(c["carrierCode"]), str(c["serviceCode"])) for c in data.get("carriers", []))
            or DEFAULT_CARRIERS
        )
        self.warehouse_id = int(data.get("warehouse_id", 41_001))
        self.orders: dict[int, dict[str, Any]] = {}
        self.by_key: dict[str, int] = {}
        self.shipments: dict[int, dict[str, Any]] = {}
        self.batches: dict[int, list[int]] = {}
        for body in data.get("orders", []):
            self.upsert(dict(body))

    # -- orders ----------------------------------------------------------------------------

    def upsert(self, body: Any) -> Upsert:
        """Create the order, or update the one with the same ``orderKey`` (or ``orderId``).

        Raises:
            ShipStationError: 400 when the body fails validation.
        """
        body = validate_order(body)
        stamp = ss_timestamp(_now())
        existing = self._existing(body)
        if existing is None:
            key = body.get("orderKey") or str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            order = new_order(next(self._order_ids), key, stamp)
            self._write(order, body, stamp)
            self.orders[order["orderId"]] = order
            self.by_key[key] = order["orderId"]
            return Upsert(order, created=True, changed=True)
        if existing["orderStatus"] in LOCKED_STATUSES:
            return Upsert(existing, created=False, changed=False)
        self._write(existing, body, stamp)
        existing["modifyDate"] = stamp
        return Upsert(existing, created=False, changed=True)

    def _existing(self, body: Mapping[str, Any]) -> dict[str, Any] | None:
        key = body.get("orderKey")
        if key:
            found = self.by_key.get(key)
            return self.orders[found] if found is not None else None
        order_id = body.get("orderId")
        if isinstance(order_id, int) and order_id in self.orders:
            return self.orders[order_id]
        return None

    def _write(self, order: dict[str, Any], body: Mapping[str, Any], stamp: str) -> None:
        apply_fields(order, body)
        if "items" in body:
            old = {i["lineItemKey"]: i["orderItemId"] for i in order["items"] if i["lineItemKey"]}
            items = []
            for item in body.get("items") or []:
                item_id = old.get(item.get("lineItemKey")) or next(self._item_ids)
                items.append(shape_item(item, item_id, stamp))
            order["items"] = items
        if order["orderStatus"] != "on_hold":
            order["holdUntilDate"] = None
        order["orderTotal"] = order_total(order)

    def order(self, order_id: int) -> dict[str, Any]:
        """One order.

        Raises:
            ShipStationError: 404 when there is none.
        """
        found = self.orders.get(order_id)
        if found is None:
            raise not_found(f"Order {order_id} not found.")
        return found

    def find_orders(self, filters: Mapping[str, str]) -> dict[str, Any]:
        """``GET /orders`` with ``orderNumber``, ``orderStatus``, ``page``, ``pageSize``."""
        selected = [
            o
            for o in self.orders.values()
            if filters.get("orderNumber") in (None, o["orderNumber"])
            and filters.get("orderStatus") in (None, o["orderStatus"])
        ]
        return _page("orders", selected, filters)

    def hold(self, order_id: int, until: str) -> dict[str, Any]:
        """``holduntil``: on hold until the date, when the status goes back to awaiting_shipment."""
        order = self.order(order_id)
        if order["orderStatus"] in LOCKED_STATUSES:
            raise refuse_locked(order, "put on hold")
        order["orderStatus"] = "on_hold"
        order["holdUntilDate"] = until
        order["modifyDate"] = ss_timestamp(_now())
        return order

    def wake_holds(self, today: str | None = None) -> list[dict[str, Any]]:
        """Orders whose ``holdUntilDate`` has come go back to awaiting_shipment."""
        day = today or _now().astimezone(PACIFIC).date().isoformat()
        woken = []
        for order in self.orders.values():
            until = order.get("holdUntilDate")
            if order["orderStatus"] == "on_hold" and isinstance(until, str) and until[:10] <= day:
                order["orderStatus"] = "awaiting_shipment"
                order["holdUntilDate"] = None
                order["modifyDate"] = ss_timestamp(_now())
                woken.append(order)
        return woken

    def restore(self, order_id: int) -> dict[str, Any]:
        """``restorefromhold``: back to awaiting_shipment."""
        order = self.order(order_id)
        if order["orderStatus"] != "on_hold":
            raise ShipStationError(
                400, {"Message": f"Order {order_id} is not on hold ({order['orderStatus']})."}
            )
        order["orderStatus"] = "awaiting_shipment"
        order["holdUntilDate"] = None
        order["modifyDate"] = ss_timestamp(_now())
        return order

    # -- shipping --------------------------------------------------------------------------

    def remaining(self, order: Mapping[str, Any]) -> dict[int, int]:
        """Units of each order item not yet in a live (unvoided) shipment."""
        left = {i["orderItemId"]: int(i["quantity"]) for i in order["items"] if not i["adjustment"]}
        for shipment in self.shipments.values():
            if shipment["orderId"] != order["orderId"] or shipment["voided"]:
                continue
            for line in shipment["_lines"]:
                left[line[0]] -= line[1]
        return {item_id: qty for item_id, qty in left.items() if qty > 0}

    def ship(self, order_id: int, spec: Mapping[str, Any]) -> dict[str, Any]:
        """A warehouse ships some (``spec.items``) or all remaining units of an order.

        ``spec`` may give ``items`` ``[{lineItemKey | orderItemId | sku, quantity}]``,
        ``carrierCode``, ``serviceCode``, ``trackingNumber`` and ``shipmentCost``.

        Raises:
            ShipStationError: 400 for an order that cannot ship or units it does not have.
        """
        order = self.order(order_id)
        if order["orderStatus"] not in {"awaiting_shipment", "pending_fulfillment"}:
            raise refuse_locked(order, "shipped")
        left = self.remaining(order)
        lines = self._pick(order, left, spec.get("items"))
        carrier, service = self._carrier(spec)
        stamp = _now()
        shipment = self._shipment(order, lines, carrier, service, spec, stamp)
        self.shipments[shipment["shipmentId"]] = shipment
        if not self.remaining(order):
            order["orderStatus"] = "shipped"
            order["shipDate"] = shipment["shipDate"]
        order["modifyDate"] = ss_timestamp(stamp)
        return shipment

    def _pick(
        self, order: Mapping[str, Any], left: Mapping[int, int], wanted: Any
    ) -> list[tuple[int, int]]:
        if not left:
            raise invalid({"shipment": [f"Order {order['orderId']} has nothing left to ship."]})
        if wanted is None:
            return sorted(left.items())
        if not isinstance(wanted, list) or not wanted:
            raise invalid({"shipment.items": ["items must be a non-empty array."]})
        lines: list[tuple[int, int]] = []
        for entry in wanted:
            item = _match_item(order, entry)
            qty = entry.get("quantity") if isinstance(entry, dict) else None
            if item is None or not isinstance(qty, int) or qty < 1:
                raise invalid({"shipment.items": [f"Unknown item or bad quantity: {entry}"]})
            if qty > left.get(item["orderItemId"], 0):
                raise invalid(
                    {
                        "shipment.items": [
                            f"Only {left.get(item['orderItemId'], 0)} "
                            f"unit(s) of {item['sku']} are left to ship."
                        ]
                    }
                )
            lines.append((item["orderItemId"], qty))
        return lines

    def _carrier(self, spec: Mapping[str, Any]) -> tuple[str, str]:
        carrier, service = self.carriers[self.rng.randrange(len(self.carriers))]
        return str(spec.get("carrierCode") or carrier), str(spec.get("serviceCode") or service)

    def tracking_number(self, carrier: str) -> str:
        """A tracking number in the carrier's format, drawn from the seed."""
        digits = "".join(str(self.rng.randrange(10)) for _ in range(22))
        if carrier.startswith("ups"):
            return (
                "1Z"
                + "".join(self.rng.choice("0123456789ABCDEFGHJKLMNPRSTVWXYZ") for _ in range(6))
                + digits[:10]
            )
        if carrier.startswith("fedex"):
            return digits[:12]
        return "9400" + digits[:18]

    def _shipment(
        self,
        order: Mapping[str, Any],
        lines: Sequence[tuple[int, int]],
        carrier: str,
        service: str,
        spec: Mapping[str, Any],
        stamp: datetime,
    ) -> dict[str, Any]:
        items = {i["orderItemId"]: i for i in order["items"]}
        cost = spec.get("shipmentCost")
        ounces = sum(
            Decimal((items[item_id].get("weight") or {}).get("value") or 8) * qty
            for item_id, qty in lines
        )
        return {
            "shipmentId": next(self._shipment_ids),
            "orderId": order["orderId"],
            "orderKey": order["orderKey"],
            "userId": None,
            "customerEmail": order.get("customerEmail"),
            "orderNumber": order["orderNumber"],
            "createDate": ss_timestamp(stamp),
            "shipDate": stamp.astimezone(PACIFIC).date().isoformat(),
            "shipmentCost": cost
            if cost is not None
            else Decimal(self.rng.randrange(500, 2500)) / 100,
            "insuranceCost": Decimal("0"),
            "trackingNumber": str(spec.get("trackingNumber") or self.tracking_number(carrier)),
            "isReturnLabel": False,
            "batchNumber": None,
            "carrierCode": carrier,
            "serviceCode": service,
            "packageCode": "package",
            "confirmation": "none",
            "warehouseId": self.warehouse_id,
            "voided": False,
            "voidDate": None,
            "marketplaceNotified": False,
            "notifyErrorMessage": None,
            "shipTo": order["shipTo"],
            "weight": {"value": ounces, "units": "ounces", "WeightUnits": 1},
            "dimensions": None,
            "insuranceOptions": {"provider": None, "insureShipment": False, "insuredValue": 0},
            "advancedOptions": None,
            "labelData": None,
            "formData": None,
            "_lines": list(lines),
        }

    def void(self, shipment_id: int) -> tuple[dict[str, Any], bool]:
        """Void a label; returns the shipment and whether it was already voided.

        Raises:
            ShipStationError: 404 for an unknown shipment.
        """
        shipment = self.shipments.get(shipment_id)
        if shipment is None:
            raise not_found(f"Shipment {shipment_id} not found.")
        if shipment["voided"]:
            return shipment, True
        shipment["voided"] = True
        shipment["voidDate"] = ss_timestamp(_now())
        order = self.orders[shipment["orderId"]]
        if order["orderStatus"] == "shipped" and self.remaining(order):
            order["orderStatus"] = "awaiting_shipment"
            order["shipDate"] = None
        return shipment, False

    def new_batch(self, shipment_ids: Sequence[int]) -> int:
        """A batch of shipments, named by a SHIP_NOTIFY ``resource_url``."""
        batch_id = next(self._batch_ids)
        self.batches[batch_id] = list(shipment_ids)
        return batch_id

    def shipment_view(self, shipment: Mapping[str, Any], with_items: bool) -> dict[str, Any]:
        """A shipment as ``GET /shipments`` returns it (``shipmentItems`` null without items)."""
        view = {k: v for k, v in shipment.items() if not k.startswith("_")}
        view["shipmentItems"] = self._shipment_items(shipment) if with_items else None
        return view

    def _shipment_items(self, shipment: Mapping[str, Any]) -> list[dict[str, Any]]:
        items = {i["orderItemId"]: i for i in self.orders[shipment["orderId"]]["items"]}
        shaped = []
        for item_id, qty in shipment["_lines"]:
            item = items.get(item_id)
            if item is None:  # the order was edited since: keep the id and the units
                shaped.append({"orderItemId": item_id, "quantity": qty})
                continue
            shaped.append(
                {k: item[k] for k in item if k not in {"createDate", "modifyDate"}}
                | {"quantity": qty}
            )
        return shaped

    def find_shipments(self, filters: Mapping[str, str]) -> dict[str, Any]:
        """``GET /shipments`` by ``batchId``, ``orderId``, ``orderNumber``, ``trackingNumber``.

        Raises:
            ShipStationError: 400 for a filter that is not a number where one is needed.
        """
        with_items = filters.get("includeShipmentItems", "False").lower() == "true"
        selected = list(self.shipments.values())
        batch = _int_filter(filters, "batchId")
        if batch is not None:
            ids = self.batches.get(batch, [])
            selected = [self.shipments[i] for i in ids]
        order_id = _int_filter(filters, "orderId")
        if order_id is not None:
            selected = [s for s in selected if s["orderId"] == order_id]
        for name in ("orderNumber", "trackingNumber", "carrierCode"):
            if filters.get(name) is not None:
                selected = [s for s in selected if s[name] == filters[name]]
        views = [self.shipment_view(s, with_items) for s in selected]
        return _page("shipments", views, filters)


def _match_item(order: Mapping[str, Any], entry: Any) -> dict[str, Any] | None:
    if not isinstance(entry, dict):
        return None
    for item in order["items"]:
        if "orderItemId" in entry and item["orderItemId"] == entry["orderItemId"]:
            return dict(item)
        if "lineItemKey" in entry and item["lineItemKey"] == entry["lineItemKey"]:
            return dict(item)
        if "sku" in entry and item["sku"] == entry["sku"]:
            return dict(item)
    return None


def _int_filter(filters: Mapping[str, str], name: str) -> int | None:
    value = filters.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise invalid({name: [f"The value '{value}' is not valid for {name}."]}) from exc


def _page(root: str, selected: list[dict[str, Any]], filters: Mapping[str, str]) -> dict[str, Any]:
    try:
        page = max(1, int(filters.get("page", "1")))
        size = min(MAX_PAGE_SIZE, max(1, int(filters.get("pageSize", "100"))))
    except ValueError as exc:
        raise invalid({"page": ["page and pageSize must be whole numbers."]}) from exc
    total = len(selected)
    pages = max(1, math.ceil(total / size)) if total else 0
    chunk = selected[(page - 1) * size : page * size]
    return {root: chunk, "total": total, "page": page, "pages": pages}
