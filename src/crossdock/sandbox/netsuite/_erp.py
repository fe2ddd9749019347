"""The simulated NetSuite account: records, inventory by location, and sales order behaviour.

Stock is kept per item and location as on-hand and committed (available = on hand - committed).
Non-inventory sale items (custom lines, gift cards) hold no stock: their lines are never
committed, back-ordered or fulfilled, and they are billable as soon as they are ordered.
A sales order commits what is available at its line's location and back-orders the rest;
stock received later (the admin endpoint) commits back-orders oldest order first. Fulfilments
ship committed quantities, invoices bill fulfilled ones, and the order's status follows:
Pending Fulfillment, Partially Fulfilled, Pending Billing/Partially Fulfilled, Pending Billing,
Billed, Closed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from crossdock.sandbox.kit import EffectLedger
from crossdock.sandbox.netsuite._errors import NetSuiteError

RECORD_TYPES = (
    "customer",
    "inventoryItem",
    "nonInventorySaleItem",
    "salesOrder",
    "itemFulfillment",
    "invoice",
    "returnAuthorization",
    "creditMemo",
    "location",
)
TRANSFORMS = {
    ("salesOrder", "itemFulfillment"),
    ("salesOrder", "invoice"),
    ("salesOrder", "returnAuthorization"),
    ("returnAuthorization", "creditMemo"),
}
TRAN_TYPES = {
    "salesOrder": ("SalesOrd", "SO"),
    "itemFulfillment": ("ItemShip", "IF"),
    "invoice": ("CustInvc", "INV"),
    "returnAuthorization": ("RtnAuth", "RMA"),
    "creditMemo": ("CustCred", "CM"),
}
SO_STATUS = {
    "B": "Pending Fulfillment",
    "D": "Partially Fulfilled",
    "E": "Pending Billing/Partially Fulfilled",
    "F": "Pending Billing",
    "G": "Billed",
    "H": "Closed",
}
ITEM_TYPES = {"inventoryItem": "InvtPart", "nonInventorySaleItem": "NonInvtPart"}
"""Item record types a sales order line may name, and the line's ``itemType`` of each."""
_READ_ONLY = {"id", "links", "createdDate", "lastModifiedDate", "status", "tranId", "total"}


def stocked(line: dict[str, Any]) -> bool:
    """True when a sales order line holds an inventory item (committed, fulfilled)."""
    return bool((line.get("itemType") or {}).get("id", "InvtPart") == "InvtPart")


def _billable(line: dict[str, Any]) -> int:
    """What of a line may be billed: fulfilled units, or every open unit of a non-stock line."""
    if stocked(line):
        return int(line["quantityFulfilled"])
    return 0 if line["isClosed"] else int(line["quantity"])


def iso(moment: datetime) -> str:
    """NetSuite's record timestamps: ``2026-11-27T04:25:39Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bad(detail: str, path: str | None = None, code: str = "INVALID_VALUE") -> NetSuiteError:
    return NetSuiteError(400, code, detail, path=path)


def _user(detail: str, path: str | None = None) -> NetSuiteError:
    return NetSuiteError(400, "USER_ERROR", detail, path=path)


def _quantity(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise _bad(f"Invalid value for field {path}: quantity must be a whole number.", path)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise _bad(f"Invalid value for field {path}: {value!r} is not a number.", path) from None
    if number != number.to_integral_value() or number <= 0:
        raise _bad(f"Invalid value for field {path}: quantity must be a positive integer.", path)
    return int(number)


def _money(value: Any, path: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise _bad(f"Invalid value for field {path}: {value!r} is not a number.", path)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise _bad(f"Invalid value for field {path}: {value!r} is not a number.", path) from None
    if not amount.is_finite():
        raise _bad(f"Invalid value for field {path}: {value!r} is not a number.", path)
    return amount


@dataclass
class Stock:
    """One item at one location."""

    on_hand: int
    committed: int
    modified: datetime

    @property
    def available(self) -> int:
        """On hand minus committed (never below zero)."""
        return max(0, self.on_hand - self.committed)


class Erp:
    """Records by type and internal id, external-id indexes, and stock by item and location.

    Args:
        data: The scenario's ``locations``, ``items`` and ``customers``.
        effects: The simulator's effect ledger (kind = record type, key = external id).
        now: Wall-clock time (injectable).
    """

    def __init__(
        self,
        data: dict[str, Any],
        effects: EffectLedger,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.effects = effects
        self.now = now
        self.currency = str(data.get("currency", "USD"))
        self.records: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in RECORD_TYPES}
        self.eids: dict[str, dict[str, str]] = {t: {} for t in RECORD_TYPES}
        self.stock: dict[tuple[str, str], Stock] = {}
        self.modified: dict[tuple[str, str], datetime] = {}
        self._next = 100
        self._tran_numbers: dict[str, int] = {}
        self._seed(data)

    # -- seeding -----------------------------------------------------------------------------

    def _seed(self, data: dict[str, Any]) -> None:
        for location in data.get("locations", []):
            self._store("location", {"name": location["name"]}, str(location["id"]))
        for item in data.get("items", []):
            record = {
                "itemId": item["itemId"],
                "displayName": item.get("displayName", item["itemId"]),
                "basePrice": _money(item.get("basePrice", 0), "basePrice"),
            }
            item_id = self._store(
                "inventoryItem", record, str(item["id"]), external_id=item.get("externalId")
            )
            for location_id, on_hand in item.get("onHand", {}).items():
                self.set_on_hand(item_id, str(location_id), int(on_hand))
        for item in data.get("nonInventoryItems", []):
            record = {
                "itemId": item["itemId"],
                "displayName": item.get("displayName", item["itemId"]),
                "basePrice": _money(item.get("basePrice", 0), "basePrice"),
            }
            self._store(
                "nonInventorySaleItem", record, str(item["id"]), external_id=item.get("externalId")
            )
        for customer in data.get("customers", []):
            body = {k: v for k, v in customer.items() if k not in {"id", "externalId"}}
            self._store(
                "customer", body, str(customer["id"]), external_id=customer.get("externalId")
            )

    # -- plumbing ----------------------------------------------------------------------------

    def new_id(self) -> str:
        """A fresh internal id."""
        self._next += 1
        return str(self._next)

    def _store(
        self, kind: str, body: dict[str, Any], record_id: str, external_id: str | None = None
    ) -> str:
        now = self.now()
        record = {**body, "id": record_id, "createdDate": iso(now), "lastModifiedDate": iso(now)}
        if external_id is not None:
            record["externalId"] = external_id
            self.eids[kind][external_id] = record_id
        if kind in TRAN_TYPES:
            prefix = TRAN_TYPES[kind][1]
            self._tran_numbers[kind] = self._tran_numbers.get(kind, 0) + 1
            record.setdefault("tranId", f"{prefix}{self._tran_numbers[kind]:05d}")
            record.setdefault("tranDate", now.date().isoformat())
        self.records[kind][record_id] = record
        self.modified[(kind, record_id)] = now
        if record_id.isdigit():
            self._next = max(self._next, int(record_id))
        return record_id

    def touch(self, kind: str, record_id: str) -> None:
        """Mark a record as changed now."""
        now = self.now()
        self.records[kind][record_id]["lastModifiedDate"] = iso(now)
        self.modified[(kind, record_id)] = now

    def resolve(self, kind: str, key: str) -> str:
        """The internal id of ``key`` (an id or ``eid:<externalId>``).

        Raises:
            NetSuiteError: 404 NONEXISTENT_ID.
        """
        if kind not in self.records:
            raise NetSuiteError(
                404, "INVALID_URL", f"Record type '{kind}' does not exist.", title="Not Found"
            )
        found = self.eids[kind].get(key[4:]) if key.startswith("eid:") else key
        if found is None or found not in self.records[kind]:
            raise NetSuiteError(
                404,
                "NONEXISTENT_ID",
                f"The record instance does not exist. Provide a valid record instance ID "
                f"({kind} {key}).",
                title="Not Found",
            )
        return found

    def get(self, kind: str, record_id: str) -> dict[str, Any]:
        """The stored record (not a copy)."""
        return self.records[kind][record_id]

    def reference(self, kind: str, ref: Any, path: str) -> dict[str, str]:
        """Resolve a reference ``{"id"}`` or ``{"externalId"}`` to ``{"id", "refName"}``.

        Raises:
            NetSuiteError: 400 INVALID_VALUE naming the path.
        """
        if not isinstance(ref, dict) or not ({"id", "externalId"} & ref.keys()):
            raise _bad(f"Invalid value for field {path}: give {{'id'}} or {{'externalId'}}.", path)
        if "id" in ref:
            record_id: str | None = str(ref["id"])
            if record_id not in self.records[kind]:
                record_id = None
        else:
            record_id = self.eids[kind].get(str(ref["externalId"]))
        if record_id is None:
            raise _bad(
                f"Invalid value for field {path}: no {kind} matches the reference {ref}.", path
            )
        return {"id": record_id, "refName": self._ref_name(kind, record_id)}

    def _ref_name(self, kind: str, record_id: str) -> str:
        record = self.records[kind][record_id]
        for name in ("tranId", "itemId", "companyName", "entityId", "name"):
            if record.get(name):
                return str(record[name])
        full = " ".join(str(record[k]) for k in ("firstName", "lastName") if record.get(k))
        return full or record_id

    # -- generic record operations -----------------------------------------------------------

    def create(self, kind: str, body: dict[str, Any], *, external_id: str | None = None) -> str:
        """Create a record; return its internal id.

        Raises:
            NetSuiteError: A duplicate external id, a bad value, a missing field.
        """
        eid = external_id if external_id is not None else body.get("externalId")
        if eid is not None and not isinstance(eid, str):
            raise _bad("Invalid value for field externalId: must be a string.", "externalId")
        key = eid if eid is not None else f"new:{kind}"
        self.effects.attempt(kind, key)
        if eid is not None and eid in self.eids[kind]:
            self.effects.refused(kind, key)
            raise _user(
                f"A {kind} record with external ID {eid} already exists.", path="externalId"
            )
        fields = self._prepare(kind, body)
        if kind in TRAN_TYPES and kind != "salesOrder":
            raise _user(f"Create a {kind} by transforming its source record.")
        record_id = self._store(kind, fields, self.new_id(), external_id=eid)
        if kind == "salesOrder":
            self._commit_order(record_id)
        self.effects.created(kind, key, state=self._state(kind, record_id))
        return record_id

    def upsert(self, kind: str, external_id: str, body: dict[str, Any]) -> tuple[str, bool]:
        """PUT on ``eid:``: create the record, or replace the one with that external id.

        Returns:
            The internal id and whether it was created.
        """
        if "externalId" in body and body["externalId"] != external_id:
            raise _bad("The externalId in the body differs from the one in the URL.", "externalId")
        record_id = self.eids[kind].get(external_id)
        if record_id is None:
            return self.create(kind, body, external_id=external_id), True
        self.effects.attempt(kind, external_id)
        self.replace(kind, record_id, body)
        self.effects.absorbed(kind, external_id)
        self.effects.state(kind, external_id, self._state(kind, record_id))
        return record_id, False

    def replace(self, kind: str, record_id: str, body: dict[str, Any]) -> None:
        """Replace a record's writable fields with ``body`` (its sublists included)."""
        record = self.records[kind][record_id]
        fields = self._prepare(kind, body)
        if kind == "salesOrder":
            self._replace_lines(record, fields)
            fields.pop("item")
        kept = {k: v for k, v in record.items() if k in _READ_ONLY or k in {"externalId", "item"}}
        record.clear()
        record.update({**fields, **kept})
        self.touch(kind, record_id)
        if kind == "salesOrder":
            self._commit_order(record_id)
        self._refresh_eid(kind, record_id)

    def patch(self, kind: str, record_id: str, body: dict[str, Any]) -> None:
        """Update the fields given; on a sales order, lines are changed by ``line`` (closed,
        described, re-quantified) and added without one (see `_patch_lines`)."""
        record = self.records[kind][record_id]
        if kind == "salesOrder":
            self._patch_order(record, body)
        else:
            record.update(self._prepare(kind, body, partial=True))
        if "externalId" in body:
            self._set_eid(kind, record_id, body["externalId"])
        self.touch(kind, record_id)
        if kind == "salesOrder":
            self._commit_order(record_id)

    def delete(self, kind: str, record_id: str) -> None:
        """Delete a record (a sales order with fulfilments is refused)."""
        record = self.records[kind][record_id]
        if kind == "salesOrder":
            if any(line["quantityFulfilled"] for line in record["item"]["items"]):
                raise _user("This order has been fulfilled; it cannot be deleted.")
            self._release_order(record)
        if kind == "inventoryItem" and any(item == record_id for item, _ in self.stock):
            for key in [k for k in self.stock if k[0] == record_id]:
                del self.stock[key]
        eid = record.get("externalId")
        if eid is not None:
            self.eids[kind].pop(eid, None)
        del self.records[kind][record_id]
        self.modified.pop((kind, record_id), None)

    def _set_eid(self, kind: str, record_id: str, eid: Any) -> None:
        if not isinstance(eid, str) or not eid:
            raise _bad("Invalid value for field externalId.", "externalId")
        owner = self.eids[kind].get(eid)
        if owner is not None and owner != record_id:
            raise _user(f"A {kind} record with external ID {eid} already exists.", "externalId")
        old = self.records[kind][record_id].get("externalId")
        if old is not None:
            self.eids[kind].pop(old, None)
        self.records[kind][record_id]["externalId"] = eid
        self.eids[kind][eid] = record_id

    def _refresh_eid(self, kind: str, record_id: str) -> None:
        eid = self.records[kind][record_id].get("externalId")
        if eid is not None:
            self.eids[kind][eid] = record_id

    def _state(self, kind: str, record_id: str) -> Any:
        status = self.records[kind][record_id].get("status")
        return status.get("refName") if isinstance(status, dict) else record_id

    # -- validation --------------------------------------------------------------------------

    def _prepare(self, kind: str, body: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
        fields = {k: v for k, v in body.items() if k not in _READ_ONLY and k != "externalId"}
        if kind == "customer" and not partial:
            if not (fields.get("companyName") or fields.get("lastName")):
                raise _user("Please enter value(s) for: Company Name.", "companyName")
        elif kind in ITEM_TYPES:
            if not partial and not fields.get("itemId"):
                raise _user("Please enter value(s) for: Item Name/Number.", "itemId")
            if "basePrice" in fields:
                fields["basePrice"] = _money(fields["basePrice"], "basePrice")
        elif kind == "salesOrder":
            fields = self._prepare_order(fields)
        return fields

    def _prepare_order(self, fields: dict[str, Any]) -> dict[str, Any]:
        if "entity" not in fields:
            raise _user("Please enter value(s) for: Customer.", "entity")
        fields["entity"] = self.reference("customer", fields["entity"], "entity")
        currency = fields.get("currency") or {"refName": self.currency}
        if not isinstance(currency, dict):
            raise _bad("Invalid value for field currency.", "currency")
        fields["currency"] = {"id": "1", "refName": str(currency.get("refName", self.currency))}
        default_location = fields.get("location")
        if default_location is not None:
            fields["location"] = self.reference("location", default_location, "location")
        items = (
            (fields.get("item") or {}).get("items")
            if isinstance(fields.get("item"), dict)
            else None
        )
        if not isinstance(items, list) or not items:
            raise _user("You must enter at least one line item for this transaction.", "item")
        lines: list[dict[str, Any]] = []
        subtotal = Decimal(0)
        for index, raw in enumerate(items):
            line = self._new_line(raw, index + 1, f"item.items[{index}]", fields.get("location"))
            subtotal += line["amount"]
            lines.append(line)
        fields["item"] = {"items": lines}
        shipping = _money(fields.get("shippingCost", 0), "shippingCost")
        fields["subtotal"] = subtotal
        fields["total"] = subtotal + shipping
        return fields

    def _new_line(self, raw: Any, number: int, path: str, default_location: Any) -> dict[str, Any]:
        """A sales order line from its request body (item resolved, rate defaulted)."""
        if not isinstance(raw, dict):
            raise _bad(f"Invalid value for field {path}.", path)
        item_kind, item = self._line_item(raw.get("item"), f"{path}.item")
        quantity = _quantity(raw.get("quantity"), f"{path}.quantity")
        base = self.records[item_kind][item["id"]].get("basePrice", Decimal(0))
        rate = _money(raw["rate"], f"{path}.rate") if "rate" in raw else base
        location = raw.get("location") or default_location
        if location is None:
            first = min(self.records["location"], key=int, default=None)
            if first is None:
                raise _user("Please enter value(s) for: Location.", f"{path}.location")
            location = {"id": first}
        return {
            "line": number,
            "item": item,
            "itemType": {"id": ITEM_TYPES[item_kind], "refName": ITEM_TYPES[item_kind]},
            "description": raw.get("description") or item["refName"],
            "quantity": quantity,
            "rate": rate,
            "amount": rate * quantity,
            "location": self.reference("location", location, f"{path}.location"),
            "isClosed": bool(raw.get("isClosed", False)),
            "quantityCommitted": 0,
            "quantityBackOrdered": 0,
            "quantityFulfilled": 0,
            "quantityBilled": 0,
            "quantityReturned": 0,
        }

    def _line_item(self, ref: Any, path: str) -> tuple[str, dict[str, str]]:
        """Resolve a line's item among every item type (items share one id space)."""
        for kind in ITEM_TYPES:
            try:
                return kind, self.reference(kind, ref, path)
            except NetSuiteError:
                continue
        raise _bad(f"Invalid value for field {path}: no item matches the reference {ref}.", path)

    # -- inventory ---------------------------------------------------------------------------

    def stock_at(self, item_id: str, location_id: str) -> Stock:
        """The stock of one item at one location (created empty)."""
        key = (item_id, location_id)
        if key not in self.stock:
            self.stock[key] = Stock(0, 0, self.now())
        return self.stock[key]

    def _stock_changed(self, stock: Stock) -> None:
        stock.modified = self.now()

    def set_on_hand(self, item_id: str, location_id: str, on_hand: int) -> None:
        """Set on-hand stock (a receipt or a count), then commit back-orders that now fit."""
        if item_id not in self.records["inventoryItem"]:
            raise _bad(f"Invalid value for field item: no inventoryItem {item_id}.", "item")
        if location_id not in self.records["location"]:
            raise _bad(f"Invalid value for field location: no location {location_id}.", "location")
        stock = self.stock_at(item_id, location_id)
        stock.on_hand = on_hand
        self._stock_changed(stock)
        for order_id in sorted(self.records["salesOrder"], key=int):
            self._commit_order(order_id)

    def backorders(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every open line with a back-ordered quantity, with its order's id."""
        for order_id, order in self.records["salesOrder"].items():
            for line in order["item"]["items"]:
                if line["quantityBackOrdered"] and not line["isClosed"]:
                    yield order_id, line

    # -- sales orders ------------------------------------------------------------------------

    def _commit_order(self, order_id: str) -> None:
        order = self.records["salesOrder"][order_id]
        changed = False
        for line in order["item"]["items"]:
            if not stocked(line):
                continue
            open_qty = 0 if line["isClosed"] else line["quantity"] - line["quantityFulfilled"]
            stock = self.stock_at(line["item"]["id"], line["location"]["id"])
            if line["quantityCommitted"] > open_qty:  # closed, or quantity lowered
                release = line["quantityCommitted"] - open_qty
                line["quantityCommitted"] -= release
                stock.committed -= release
                self._stock_changed(stock)
                changed = True
            need = open_qty - line["quantityCommitted"]
            take = min(need, stock.available)
            if take > 0:
                line["quantityCommitted"] += take
                stock.committed += take
                self._stock_changed(stock)
                changed = True
            backordered = open_qty - line["quantityCommitted"]
            if backordered != line["quantityBackOrdered"]:
                line["quantityBackOrdered"] = backordered
                changed = True
        status = self._order_status(order)
        if status != order.get("status"):
            order["status"] = status
            changed = True
        if changed:
            self.touch("salesOrder", order_id)
            eid = order.get("externalId")
            if eid is not None:
                self.effects.state("salesOrder", eid, status["refName"])

    def _release_order(self, order: dict[str, Any]) -> None:
        for line in order["item"]["items"]:
            if not stocked(line):
                continue
            stock = self.stock_at(line["item"]["id"], line["location"]["id"])
            stock.committed -= line["quantityCommitted"]
            line["quantityCommitted"] = 0
            self._stock_changed(stock)

    def _replace_lines(self, record: dict[str, Any], fields: dict[str, Any]) -> None:
        old = {line["line"]: line for line in record["item"]["items"]}
        new = fields["item"]["items"]
        for line in new:
            before = old.get(line["line"])
            if before is None:
                continue
            if before["quantityFulfilled"] and before["item"]["id"] != line["item"]["id"]:
                raise _user(f"Line {line['line']} has been fulfilled; its item cannot change.")
            if line["quantity"] < before["quantityFulfilled"]:
                raise _user(
                    f"Line {line['line']}: quantity is below the quantity already fulfilled.",
                    f"item.items[{line['line'] - 1}].quantity",
                )
            for name in ("quantityFulfilled", "quantityBilled", "quantityReturned"):
                line[name] = before[name]
        for number, before in old.items():
            if number > len(new) and before["quantityFulfilled"]:
                raise _user(f"Line {number} has been fulfilled; it cannot be removed.")
        self._release_order(record)
        record["item"] = fields["item"]
        record["subtotal"], record["total"] = fields["subtotal"], fields["total"]

    def _patch_order(self, record: dict[str, Any], body: dict[str, Any]) -> None:
        for name, value in body.items():
            if name == "item":
                items = value.get("items") if isinstance(value, dict) else None
                if not isinstance(items, list):
                    raise _bad("Invalid value for field item.", "item")
                self._patch_lines(record, items)
            elif name in {"memo", "otherRefNum", "shipMethod", "email"}:
                record[name] = value
            elif name == "shippingAddress":
                if not isinstance(value, dict):
                    raise _bad("Invalid value for field shippingAddress.", name)
                record[name] = {**(record.get(name) or {}), **value}
            elif name not in {"externalId"}:
                raise _bad(f"Field {name} cannot be changed with PATCH here; use PUT.", name)

    def _patch_lines(self, record: dict[str, Any], items: list[Any]) -> None:
        """PATCH the item sublist: lines named by ``line`` are updated (``isClosed``,
        ``description``, ``quantity``, never below what is fulfilled); a line without
        ``line`` is added at the end. Every change is checked before any is applied."""
        lines = record["item"]["items"]
        by_line = {line["line"]: line for line in lines}
        updates: list[tuple[dict[str, Any], dict[str, Any]]] = []
        added: list[dict[str, Any]] = []
        default_location = record.get("location")
        for index, change in enumerate(items):
            path = f"item.items[{index}]"
            if isinstance(change, dict) and "line" not in change:
                number = len(lines) + len(added) + 1
                added.append(self._new_line(change, number, path, default_location))
                continue
            line = by_line.get(change.get("line")) if isinstance(change, dict) else None
            if line is None:
                raise _bad("Invalid value: no such line.", f"{path}.line")
            update: dict[str, Any] = {}
            if "isClosed" in change:
                update["isClosed"] = bool(change["isClosed"])
            if "description" in change:
                update["description"] = str(change["description"])
            if "quantity" in change:
                quantity = _quantity(change["quantity"], f"{path}.quantity")
                if quantity < line["quantityFulfilled"]:
                    raise _user(
                        f"Line {line['line']}: quantity is below the quantity already "
                        f"fulfilled ({line['quantityFulfilled']}).",
                        f"{path}.quantity",
                    )
                update["quantity"] = quantity
                update["amount"] = line["rate"] * quantity
            updates.append((line, update))
        for line, update in updates:
            line.update(update)
        lines.extend(added)
        if added or any("quantity" in update for _, update in updates):
            subtotal = sum((line["amount"] for line in lines), Decimal(0))
            shipping = _money(record.get("shippingCost", 0), "shippingCost")
            record["subtotal"], record["total"] = subtotal, subtotal + shipping

    @staticmethod
    def _order_status(order: dict[str, Any]) -> dict[str, str]:
        lines = [line for line in order["item"]["items"] if not line["isClosed"]]
        shipped = [line for line in lines if stocked(line)]
        if not lines:
            code = "H"
        elif all(line["quantityBilled"] >= line["quantity"] for line in lines):
            code = "G"
        elif all(line["quantityFulfilled"] >= line["quantity"] for line in shipped):
            code = "F"
        elif any(line["quantityFulfilled"] for line in shipped):
            billed_behind = any(line["quantityBilled"] < _billable(line) for line in lines)
            code = "E" if billed_behind else "D"
        else:
            code = "B"
        return {"id": code, "refName": SO_STATUS[code]}

    # -- transforms --------------------------------------------------------------------------

    def transform(self, source: str, source_id: str, target: str, body: dict[str, Any]) -> str:
        """Make a ``target`` record from ``source`` (``!transform``); return its id."""
        if (source, target) not in TRANSFORMS:
            raise _bad(f"A {source} cannot be transformed into a {target}.", code="INVALID_REQUEST")
        eid = body.get("externalId")
        if eid is not None and not isinstance(eid, str):
            raise _bad("Invalid value for field externalId: must be a string.", "externalId")
        key = eid if eid is not None else f"{source}:{source_id}"
        self.effects.attempt(target, key)
        if eid is not None and eid in self.eids[target]:
            self.effects.refused(target, key)
            raise _user(f"A {target} record with external ID {eid} already exists.", "externalId")
        src = self.records[source][source_id]
        picks = self._picks(src, body)
        handler = {
            "itemFulfillment": self._fulfil,
            "invoice": self._bill,
            "returnAuthorization": self._authorise_return,
            "creditMemo": self._credit,
        }[target]
        lines = handler(src, picks)
        header: dict[str, Any] = {
            "createdFrom": {"id": source_id, "refName": src["tranId"]},
            "entity": src["entity"],
            "currency": src["currency"],
            "memo": body.get("memo"),
            "item": {"items": lines},
        }
        if target != "itemFulfillment":
            total = sum((line["amount"] for line in lines), Decimal(0))
            header.update(subtotal=total, total=total)
        status = {
            "itemFulfillment": {"id": "C", "refName": "Shipped"},
            "invoice": {"id": "A", "refName": "Open"},
            "returnAuthorization": {"id": "B", "refName": "Pending Receipt"},
            "creditMemo": {"id": "A", "refName": "Open"},
        }[target]
        header["status"] = status
        header.update({k: v for k, v in body.items() if k in {"tranDate", "shipMethod"}})
        new_id = self._store(target, header, self.new_id(), external_id=eid)
        self.effects.created(target, key, state=status["refName"])
        if source == "salesOrder":
            self._commit_order(source_id)
        self.touch(source, source_id)
        return new_id

    @staticmethod
    def _picks(src: dict[str, Any], body: dict[str, Any]) -> dict[int, int] | None:
        item = body.get("item")
        if item is None:
            return None
        items = item.get("items") if isinstance(item, dict) else None
        if not isinstance(items, list):
            raise _bad("Invalid value for field item.", "item")
        numbers = {line["line"] for line in src["item"]["items"]}
        picks: dict[int, int] = {}
        for index, raw in enumerate(items):
            path = f"item.items[{index}]"
            line = raw.get("orderLine", raw.get("line")) if isinstance(raw, dict) else None
            if not isinstance(line, int) or line not in numbers:
                raise _bad(f"Invalid value for field {path}.orderLine: no line {line}.", path)
            if isinstance(raw, dict) and raw.get("itemReceive") is False:
                continue
            picks[int(line)] = picks.get(int(line), 0) + _quantity(
                raw.get("quantity"), f"{path}.quantity"
            )
        return picks

    @staticmethod
    def _take(
        src: dict[str, Any],
        picks: dict[int, int] | None,
        room: Callable[[dict[str, Any]], int],
        what: str,
    ) -> list[tuple[dict[str, Any], int]]:
        taken = []
        for line in src["item"]["items"]:
            can = room(line)
            want = can if picks is None else picks.get(line["line"], 0)
            if want > can:
                raise _user(
                    f"Line {line['line']}: you cannot {what} {want}; only {can} can be.",
                    f"item.items[line {line['line']}].quantity",
                )
            if want > 0:
                taken.append((line, want))
        if not taken:
            raise _user(f"Nothing to {what}: you must enter at least one line item.", "item")
        return taken

    def _fulfil(self, src: dict[str, Any], picks: dict[int, int] | None) -> list[dict[str, Any]]:
        taken = self._take(src, picks, lambda line: line["quantityCommitted"], "fulfill")
        out = []
        for line, quantity in taken:
            stock = self.stock_at(line["item"]["id"], line["location"]["id"])
            stock.on_hand -= quantity
            stock.committed -= quantity
            self._stock_changed(stock)
            line["quantityCommitted"] -= quantity
            line["quantityFulfilled"] += quantity
            out.append(
                {
                    "orderLine": line["line"],
                    "item": line["item"],
                    "quantity": quantity,
                    "location": line["location"],
                    "itemReceive": True,
                }
            )
        return out

    def _bill(self, src: dict[str, Any], picks: dict[int, int] | None) -> list[dict[str, Any]]:
        taken = self._take(
            src, picks, lambda line: _billable(line) - line["quantityBilled"], "bill"
        )
        out = []
        for line, quantity in taken:
            line["quantityBilled"] += quantity
            out.append(self._priced(line, quantity))
        return out

    def _authorise_return(
        self, src: dict[str, Any], picks: dict[int, int] | None
    ) -> list[dict[str, Any]]:
        taken = self._take(
            src, picks, lambda line: line["quantityFulfilled"] - line["quantityReturned"], "return"
        )
        out = []
        for line, quantity in taken:
            line["quantityReturned"] += quantity
            priced = self._priced(line, quantity)
            priced.update(quantityCredited=0)
            out.append(priced)
        return out

    def _credit(self, src: dict[str, Any], picks: dict[int, int] | None) -> list[dict[str, Any]]:
        taken = self._take(
            src, picks, lambda line: line["quantity"] - line["quantityCredited"], "credit"
        )
        out = []
        for line, quantity in taken:
            line["quantityCredited"] += quantity
            out.append(self._priced(line, quantity))
        if all(line["quantityCredited"] >= line["quantity"] for line in src["item"]["items"]):
            src["status"] = {"id": "G", "refName": "Refunded"}
        return out

    @staticmethod
    def _priced(line: dict[str, Any], quantity: int) -> dict[str, Any]:
        return {
            "line": line["line"],
            "orderLine": line["line"],
            "item": line["item"],
            "description": line.get("description"),
            "quantity": quantity,
            "rate": line["rate"],
            "amount": line["rate"] * quantity,
            "location": line.get("location"),
        }

    def snapshot(self, kind: str, record_id: str) -> dict[str, Any]:
        """A deep copy of a record, for rendering."""
        return copy.deepcopy(self.records[kind][record_id])
