"""One Business Central company in memory: customers, items, sales orders, shipments, invoices
and credit memos.

Every entity carries a version behind its weak ETag and a strictly increasing
``lastModifiedDateTime``. Money and quantities are `Decimal`.

Posting follows Business Central: ``shipAndInvoice`` posts a shipment of each line's
``shipQuantity`` and an invoice of its ``invoiceQuantity`` (the invoice carries the order's
``orderId``, ``orderNumber`` and ``externalDocumentNumber``); a sales credit memo is a draft
(status ``Draft``) until ``Microsoft.NAV.post`` posts it (status ``Open``, a number from the
posted series, the units of its Item lines back in inventory).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from crossdock.sandbox.businesscentral._wire import (
    ENTITY_CHANGED_MESSAGE,
    ODataError,
    etag,
    iso,
)

ZERO_GUID = "00000000-0000-0000-0000-000000000000"
DEFAULT_ACCOUNTS: list[dict[str, str]] = [
    {
        "id": "8e1f7c20-3b1c-ef11-9f88-6045bd000611",
        "number": "6110",
        "displayName": "Sales, Other",
        "category": "Income",
    },
    {
        "id": "8e1f7c20-3b1c-ef11-9f88-6045bd000579",
        "number": "5790",
        "displayName": "Gift Cards Sold (Liability)",
        "category": "Liabilities",
    },
    {
        "id": "8e1f7c20-3b1c-ef11-9f88-6045bd000910",
        "number": "6910",
        "displayName": "Freight",
        "category": "Income",
    },
]
"""G/L accounts a company has when its scenario names none: custom lines, sold gift cards and
shipping charges post to them (``lineType`` ``Account`` on a sales order line)."""
CUSTOMER_FIELDS = [
    "number",
    "displayName",
    "type",
    "addressLine1",
    "addressLine2",
    "city",
    "state",
    "country",
    "postalCode",
    "phoneNumber",
    "email",
    "website",
    "taxLiable",
    "currencyCode",
    "blocked",
]
ORDER_FIELDS = [
    "externalDocumentNumber",
    "orderDate",
    "postingDate",
    "customerId",
    "customerNumber",
    "currencyCode",
    "pricesIncludeTax",
    "partialShipping",
    "requestedDeliveryDate",
    "discountAmount",
    "phoneNumber",
    "email",
    "shipToName",
    "shipToContact",
    "shipToAddressLine1",
    "shipToAddressLine2",
    "shipToCity",
    "shipToState",
    "shipToCountry",
    "shipToPostCode",
]
CREDIT_MEMO_FIELDS = [
    "externalDocumentNumber",
    "creditMemoDate",
    "postingDate",
    "dueDate",
    "customerId",
    "customerNumber",
    "invoiceId",
    "invoiceNumber",
    "currencyCode",
    "pricesIncludeTax",
    "discountAmount",
    "phoneNumber",
    "email",
]
"""Header fields a credit memo POST may set."""
CREDIT_MEMO_WRITABLE = [
    "externalDocumentNumber",
    "creditMemoDate",
    "postingDate",
    "dueDate",
    "discountAmount",
    "phoneNumber",
    "email",
]
"""Header fields a PATCH of a draft credit memo may change."""
EXTERNAL_DOCUMENT_MAX = 35


def not_found(table: str, key: str) -> ODataError:
    """BC's ``Internal_RecordNotFound`` (404)."""
    return ODataError(
        404,
        "Internal_RecordNotFound",
        f"The {table} does not exist. Identification fields and values: {key}",
    )


def dialog(message: str) -> ODataError:
    """BC's ``Application_DialogException`` (400): business logic refused the change."""
    return ODataError(400, "Application_DialogException", message)


def missing(name: str) -> ODataError:
    """BC's ``BadRequest_RequiredParamNotProvided`` (400)."""
    return ODataError(
        400, "BadRequest_RequiredParamNotProvided", f"The parameter '{name}' is required."
    )


@dataclass
class Entity:
    """A stored entity: its fields and the version behind its ETag."""

    data: dict[str, Any]
    version: int = 1
    children: list[Entity] = field(default_factory=list)

    @property
    def id(self) -> str:
        """The entity's GUID."""
        return str(self.data["id"])

    @property
    def etag(self) -> str:
        """The current weak ETag."""
        return etag(self.id, self.version)

    def view(self, child_key: str | None = None) -> dict[str, Any]:
        """The entity as served: ``@odata.etag`` first, children when asked for."""
        out: dict[str, Any] = {"@odata.etag": self.etag, **self.data}
        if child_key is not None:
            out[child_key] = [child.view() for child in self.children]
        return out


class Company:
    """The state of one company.

    Args:
        data: The scenario's company table: ``id``, ``name``, ``customers``, ``items`` and
            ``accounts`` (G/L accounts: ``number``, ``displayName``, ``category``; default
            `DEFAULT_ACCOUNTS`).
        rng: Ids are drawn from it, so a seed gives the same ids.
    """

    def __init__(self, data: Mapping[str, Any], rng: random.Random) -> None:
        self._rng = rng
        self._clock = datetime(2026, 11, 1, tzinfo=UTC)
        self.id = str(data.get("id") or self.guid())
        self.name = str(data.get("name", "CRONUS"))
        self.customers: dict[str, Entity] = {}
        self.items: dict[str, Entity] = {}
        self.accounts: dict[str, Entity] = {}
        self.orders: dict[str, Entity] = {}
        self.shipments: dict[str, Entity] = {}
        self.invoices: dict[str, Entity] = {}
        self.credit_memos: dict[str, Entity] = {}
        self._numbers = {
            "order": 101000,
            "shipment": 102000,
            "invoice": 103000,
            "credit_memo": 104000,
            "posted_credit_memo": 105000,
            "customer": 50000,
        }
        for customer in data.get("customers", []):
            self.create_customer(dict(customer))
        for item in data.get("items", []):
            self._add_item(dict(item))
        for account in data.get("accounts", DEFAULT_ACCOUNTS):
            number = str(account["number"])
            self.accounts[number] = Entity(
                {
                    "id": str(account.get("id") or self.guid()),
                    "number": number,
                    "displayName": str(account.get("displayName", number)),
                    "category": str(account.get("category", "")),
                    "blocked": False,
                }
            )

    # -- helpers ---------------------------------------------------------------------------

    def guid(self) -> str:
        """A fresh GUID from the seeded generator."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def stamp(self) -> str:
        """A ``lastModifiedDateTime`` later than every earlier one (wall time, ms precision)."""
        now = datetime.now(UTC).replace(microsecond=datetime.now(UTC).microsecond // 1000 * 1000)
        self._clock = max(now, self._clock + timedelta(milliseconds=1))
        return iso(self._clock)

    def _number(self, kind: str, prefix: str) -> str:
        self._numbers[kind] += 1
        return f"{prefix}{self._numbers[kind]}"

    def touch(self, entity: Entity) -> None:
        """Record a change: a new version (ETag) and modification time."""
        entity.version += 1
        entity.data["lastModifiedDateTime"] = self.stamp()

    def view(self) -> dict[str, Any]:
        """The company entity."""
        return {
            "@odata.etag": etag(self.id, 1),
            "id": self.id,
            "systemVersion": "25.0.23364.24504",
            "timestamp": 25000,
            "name": self.name,
            "displayName": self.name,
            "businessProfileId": "",
            "systemCreatedAt": "2026-01-01T00:00:00Z",
            "systemCreatedBy": ZERO_GUID,
            "systemModifiedAt": "2026-01-01T00:00:00Z",
            "systemModifiedBy": ZERO_GUID,
        }

    # -- customers -------------------------------------------------------------------------

    def create_customer(self, body: Mapping[str, Any]) -> Entity:
        """Insert a customer (``number`` given or assigned).

        Raises:
            ODataError: ``Internal_EntityWithSameKeyExists`` for a number already used.
        """
        number = str(body.get("number") or self._number("customer", "C"))
        if any(c.data["number"] == number for c in self.customers.values()):
            raise ODataError(
                400,
                "Internal_EntityWithSameKeyExists",
                f"The record in table Customer already exists. Identification fields and "
                f"values: No.='{number}'",
            )
        data: dict[str, Any] = {
            "id": str(body.get("id") or self.guid()),
            "number": number,
            "displayName": "",
            "type": "Company",
            "addressLine1": "",
            "addressLine2": "",
            "city": "",
            "state": "",
            "country": "",
            "postalCode": "",
            "phoneNumber": "",
            "email": "",
            "website": "",
            "taxLiable": False,
            "currencyCode": "",
            "blocked": " ",
        }
        data.update({k: v for k, v in body.items() if k in CUSTOMER_FIELDS})
        data["lastModifiedDateTime"] = self.stamp()
        entity = Entity(data)
        self.customers[entity.id] = entity
        return entity

    def customer_by(self, *, id: str | None = None, number: str | None = None) -> Entity:
        """Find a customer by id or number.

        Raises:
            ODataError: ``Internal_RecordNotFound``.
        """
        for customer in self.customers.values():
            if customer.id == id or (number is not None and customer.data["number"] == number):
                return customer
        raise not_found("Customer", f"No.='{number or id}'")

    # -- items -----------------------------------------------------------------------------

    def _add_item(self, body: Mapping[str, Any]) -> Entity:
        data: dict[str, Any] = {
            "id": str(body.get("id") or self.guid()),
            "number": str(body["number"]),
            "displayName": str(body.get("displayName", body["number"])),
            "displayName2": "",
            "type": "Inventory",
            "itemCategoryId": ZERO_GUID,
            "itemCategoryCode": str(body.get("itemCategoryCode", "")),
            "blocked": False,
            "gtin": str(body.get("gtin", "")),
            "inventory": Decimal(str(body.get("inventory", 0))),
            "unitPrice": Decimal(str(body.get("unitPrice", 0))),
            "priceIncludesTax": False,
            "unitCost": Decimal(str(body.get("unitCost", 0))),
            "taxGroupCode": "",
            "baseUnitOfMeasureCode": str(body.get("baseUnitOfMeasureCode", "PCS")),
            "lastModifiedDateTime": self.stamp(),
        }
        entity = Entity(data)
        self.items[entity.id] = entity
        return entity

    def item_by_number(self, number: str) -> Entity:
        """Find an item by its number.

        Raises:
            ODataError: ``Internal_RecordNotFound``.
        """
        for item in self.items.values():
            if item.data["number"] == number:
                return item
        raise not_found("Item", f"No.='{number}'")

    def adjust_inventory(self, number: str, delta: Decimal) -> Entity:
        """Change an item's inventory (the admin's stand-in for an item journal)."""
        item = self.item_by_number(number)
        item.data["inventory"] += delta
        self.touch(item)
        return item

    # -- sales orders ----------------------------------------------------------------------

    def create_order(self, body: Mapping[str, Any]) -> Entity:
        """Insert a sales order with its lines (deep insert).

        Raises:
            ODataError: A missing customer, an unknown item, a read-only field.
        """
        customer = self._order_customer(body)
        check_external(body.get("externalDocumentNumber"))
        read_only = sorted(set(body) & {"number", "status", "fullyShipped"})
        if read_only:
            raise ODataError(400, "BadRequest", f"The property '{read_only[0]}' is read-only.")
        order_id = self.guid()
        data: dict[str, Any] = {
            "id": order_id,
            "number": self._number("order", "S-ORD"),
            "externalDocumentNumber": "",
            "orderDate": datetime.now(UTC).date().isoformat(),
            "postingDate": datetime.now(UTC).date().isoformat(),
            "customerId": customer.id,
            "customerNumber": customer.data["number"],
            "customerName": customer.data["displayName"],
            "currencyCode": customer.data["currencyCode"],
            "pricesIncludeTax": False,
            "partialShipping": True,
            "requestedDeliveryDate": "0001-01-01",
            "discountAmount": Decimal(0),
            "totalAmountExcludingTax": Decimal(0),
            "totalTaxAmount": Decimal(0),
            "totalAmountIncludingTax": Decimal(0),
            "fullyShipped": False,
            "status": "Draft",
            "phoneNumber": customer.data["phoneNumber"],
            "email": customer.data["email"],
        }
        for prefix in ("shipTo", "sellTo", "billTo"):
            data[f"{prefix}Name"] = customer.data["displayName"]
            data[f"{prefix}AddressLine1"] = customer.data["addressLine1"]
            data[f"{prefix}City"] = customer.data["city"]
            data[f"{prefix}Country"] = customer.data["country"]
            data[f"{prefix}PostCode"] = customer.data["postalCode"]
        data.update({k: v for k, v in body.items() if k in ORDER_FIELDS and k != "customerId"})
        data["customerId"] = customer.id
        data["customerNumber"] = customer.data["number"]
        order = Entity(data)
        for index, line in enumerate(body.get("salesOrderLines") or []):
            order.children.append(self._line(order_id, (index + 1) * 10000, line))
        self._recompute(order)
        data["status"] = "Open"
        data["lastModifiedDateTime"] = self.stamp()
        self.orders[order_id] = order
        return order

    def _order_customer(self, body: Mapping[str, Any]) -> Entity:
        if body.get("customerId"):
            return self.customer_by(id=str(body["customerId"]))
        if body.get("customerNumber"):
            return self.customer_by(number=str(body["customerNumber"]))
        raise missing("customerNumber")

    def _line(self, order_id: str, sequence: int, body: Mapping[str, Any]) -> Entity:
        data = self._document_line(order_id, sequence, body)
        data.update(
            {
                "shipmentDate": datetime.now(UTC).date().isoformat(),
                "shipQuantity": Decimal(0),
                "shippedQuantity": Decimal(0),
                "invoiceQuantity": Decimal(0),
                "invoicedQuantity": Decimal(0),
                "itemVariantId": ZERO_GUID,
                "locationId": ZERO_GUID,
            }
        )
        data["shipQuantity"] = data["quantity"] if data["lineType"] != "Comment" else Decimal(0)
        data["invoiceQuantity"] = data["shipQuantity"]
        return Entity(data)

    def _document_line(
        self, document_id: str, sequence: int, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The fields a sales order line and a credit memo line share, item or account
        resolved, price defaulted from the item."""
        line_type = str(body.get("lineType", "Item"))
        if line_type not in {"Item", "Comment", "Account"}:
            raise ODataError(400, "BadRequest", f"The lineType '{line_type}' is not supported.")
        try:
            quantity = Decimal(str(body.get("quantity", 0)))
            discount = Decimal(str(body.get("discountAmount", 0)))
        except ArithmeticError:
            raise ODataError(400, "BadRequest", "A quantity or amount is not a number.") from None
        data: dict[str, Any] = {
            "id": self.guid(),
            "documentId": document_id,
            "sequence": sequence,
            "itemId": ZERO_GUID,
            "accountId": ZERO_GUID,
            "lineType": line_type,
            "lineObjectNumber": str(body.get("lineObjectNumber", "")),
            "description": str(body.get("description", "")),
            "unitOfMeasureCode": "",
            "quantity": quantity,
            "unitPrice": Decimal(0),
            "discountAmount": discount,
            "discountPercent": Decimal(0),
            "taxCode": "",
            "taxPercent": Decimal(0),
            "amountExcludingTax": Decimal(0),
            "amountIncludingTax": Decimal(0),
        }
        if line_type == "Item":
            if not data["lineObjectNumber"]:
                if not body.get("itemId"):
                    raise missing("lineObjectNumber")
                data["lineObjectNumber"] = self._item_by_id(str(body["itemId"])).data["number"]
            item = self.item_by_number(data["lineObjectNumber"])
            data["itemId"] = item.id
            data["description"] = data["description"] or item.data["displayName"]
            data["unitOfMeasureCode"] = item.data["baseUnitOfMeasureCode"]
            data["unitPrice"] = Decimal(str(body.get("unitPrice", item.data["unitPrice"])))
        elif line_type == "Account":
            account = self.accounts.get(data["lineObjectNumber"])
            if account is None:
                raise not_found("G/L Account", f"No.='{data['lineObjectNumber']}'")
            data["accountId"] = account.id
            data["description"] = data["description"] or account.data["displayName"]
            data["unitPrice"] = Decimal(str(body.get("unitPrice", 0)))
        if data["quantity"] < 0:
            raise dialog("Quantity must be positive.")
        return data

    def _item_by_id(self, item_id: str) -> Entity:
        item = self.items.get(item_id)
        if item is None:
            raise not_found("Item", f"SystemId='{item_id}'")
        return item

    @staticmethod
    def _recompute(order: Entity) -> None:
        total = Decimal(0)
        for line in order.children:
            amount = line.data["quantity"] * line.data["unitPrice"] - line.data["discountAmount"]
            line.data["amountExcludingTax"] = amount
            line.data["amountIncludingTax"] = amount
            total += amount
        order.data["totalAmountExcludingTax"] = total
        order.data["totalAmountIncludingTax"] = total - order.data["discountAmount"]

    def order(self, order_id: str) -> Entity:
        """A sales order by id.

        Raises:
            ODataError: ``Internal_RecordNotFound``.
        """
        found = self.orders.get(order_id)
        if found is None:
            raise not_found("Sales Header", f"Document Type='Order',SystemId='{order_id}'")
        return found

    def update(
        self,
        entity: Entity,
        changes: Mapping[str, Any],
        if_match: str | None,
        *,
        writable: list[str],
        conflict_status: int,
    ) -> Entity:
        """PATCH ``entity`` with ``changes`` under ``If-Match``.

        Raises:
            ODataError: No If-Match (400), a stale ETag (``Request_EntityChanged``), a field
                that cannot be written.
        """
        check_if_match(entity, if_match, conflict_status)
        refused = sorted(k for k in changes if not k.startswith("@") and k not in writable)
        if refused:
            raise ODataError(400, "BadRequest", f"The property '{refused[0]}' cannot be modified.")
        entity.data.update({k: v for k, v in changes.items() if not k.startswith("@")})
        self.touch(entity)
        return entity

    def update_line(
        self,
        order: Entity,
        line: Entity,
        changes: Mapping[str, Any],
        if_match: str | None,
        conflict_status: int,
    ) -> Entity:
        """PATCH a sales order line (quantity, price, quantities to ship and invoice).

        As in Business Central, a new ``quantity`` resets the quantity to ship to what is
        outstanding, and a new quantity (or quantity to ship) resets the quantity to invoice
        to the most it can be (shipped and not invoiced, plus what is to ship).

        Raises:
            ODataError: As `update`; ``Application_DialogException`` when the quantity falls
                below what is shipped, or more would be shipped or invoiced than is left.
        """
        writable = ["quantity", "unitPrice", "description", "shipQuantity", "invoiceQuantity"]
        check_if_match(line, if_match, conflict_status)
        numbers = {"quantity", "unitPrice", "shipQuantity", "invoiceQuantity"}
        try:
            after = {k: Decimal(str(v)) if k in numbers else v for k, v in changes.items()}
        except ArithmeticError:
            raise ODataError(400, "BadRequest", "A quantity or price is not a number.") from None
        prospective = {**line.data, **after}
        if "quantity" in after and "shipQuantity" not in after:
            after["shipQuantity"] = prospective["quantity"] - prospective["shippedQuantity"]
            prospective["shipQuantity"] = after["shipQuantity"]
        if ("quantity" in after or "shipQuantity" in after) and "invoiceQuantity" not in after:
            after["invoiceQuantity"] = _most_to_invoice(prospective)
            prospective["invoiceQuantity"] = after["invoiceQuantity"]
        if prospective["quantity"] < prospective["shippedQuantity"]:
            raise dialog(
                f"Quantity must not be less than the quantity shipped "
                f"({prospective['shippedQuantity']})."
            )
        outstanding = prospective["quantity"] - prospective["shippedQuantity"]
        if not Decimal(0) <= prospective["shipQuantity"] <= outstanding:
            raise dialog(f"You cannot ship more than {outstanding} units.")
        most = _most_to_invoice(prospective)
        if not Decimal(0) <= prospective["invoiceQuantity"] <= most:
            raise dialog(f"You cannot invoice more than {most} units.")
        self.update(line, after, if_match, writable=writable, conflict_status=conflict_status)
        self._recompute(order)
        order.data["fullyShipped"] = _fully(order, "shippedQuantity")
        self.touch(order)
        return line

    def add_line(self, order: Entity, body: Mapping[str, Any]) -> Entity:
        """POST a line to a sales order: numbered after the last one, totals recomputed.

        Raises:
            ODataError: A read-only field, an unknown item or account, a negative quantity.
        """
        read_only = sorted(set(body) & {"id", "documentId", "sequence", "shippedQuantity"})
        if read_only:
            raise ODataError(400, "BadRequest", f"The property '{read_only[0]}' is read-only.")
        last = max((int(line.data["sequence"]) for line in order.children), default=0)
        line = self._line(order.id, last + 10000, body)
        order.children.append(line)
        self._recompute(order)
        order.data["fullyShipped"] = _fully(order, "shippedQuantity")
        self.touch(order)
        return line

    def delete_line(
        self, order: Entity, line: Entity, if_match: str | None, conflict_status: int
    ) -> None:
        """DELETE a sales order line under ``If-Match`` (refused once anything shipped)."""
        check_if_match(line, if_match, conflict_status)
        if line.data["shippedQuantity"]:
            raise dialog(
                f"You cannot delete this line: {line.data['shippedQuantity']} units of it "
                "have been shipped."
            )
        order.children.remove(line)
        self._recompute(order)
        order.data["fullyShipped"] = _fully(order, "shippedQuantity")
        self.touch(order)

    def delete_order(self, order: Entity, if_match: str | None, conflict_status: int) -> None:
        """DELETE a sales order under ``If-Match``."""
        check_if_match(order, if_match, conflict_status)
        if any(line.data["shippedQuantity"] for line in order.children):
            raise dialog("You cannot delete the order: it has posted shipments.")
        del self.orders[order.id]

    @staticmethod
    def fully_invoiced(order: Entity) -> bool:
        """Whether every line is completely shipped and invoiced."""
        return _fully(order, "shippedQuantity") and _fully(order, "invoicedQuantity")

    # -- posting ---------------------------------------------------------------------------

    def ship_and_invoice(self, order: Entity) -> tuple[Entity | None, Entity | None]:
        """Post what the lines say: a shipment of each ``shipQuantity``, an invoice of each
        ``invoiceQuantity``.

        Inventory moves out, shipped and invoiced quantities grow, the quantities to ship
        and invoice are reset to what is left, the order is released.

        Returns:
            The posted shipment and invoice (None when there was nothing to ship, or to
            invoice).

        Raises:
            ODataError: ``Application_DialogException`` when there is nothing to post or an
                item's inventory is short.
        """
        lines = [line for line in order.children if line.data["lineType"] != "Comment"]
        to_ship = [line for line in lines if line.data["shipQuantity"] > 0]
        to_invoice = [line for line in lines if line.data["invoiceQuantity"] > 0]
        if not to_ship and not to_invoice:
            raise dialog("There is nothing to post.")
        for line in to_ship:
            if line.data["lineType"] != "Item":
                continue
            item = self.item_by_number(line.data["lineObjectNumber"])
            if item.data["inventory"] < line.data["shipQuantity"]:
                raise dialog(
                    f"You have insufficient quantity of Item {item.data['number']} on inventory."
                )
        shipment = (
            self._posted(order, to_ship, "shipment", "S-SHPT", "shipQuantity") if to_ship else None
        )
        invoice = (
            self._posted(order, to_invoice, "invoice", "S-INV", "invoiceQuantity")
            if to_invoice
            else None
        )
        for line in to_ship:
            if line.data["lineType"] == "Item":
                self.adjust_inventory(line.data["lineObjectNumber"], -line.data["shipQuantity"])
            line.data["shippedQuantity"] += line.data["shipQuantity"]
        for line in to_invoice:
            line.data["invoicedQuantity"] += line.data["invoiceQuantity"]
        for line in {line.id: line for line in to_ship + to_invoice}.values():
            line.data["shipQuantity"] = line.data["quantity"] - line.data["shippedQuantity"]
            line.data["invoiceQuantity"] = line.data["quantity"] - line.data["invoicedQuantity"]
            line.version += 1
        order.data["status"] = "Released"
        order.data["fullyShipped"] = _fully(order, "shippedQuantity")
        self.touch(order)
        if shipment is not None:
            self.shipments[shipment.id] = shipment
        if invoice is not None:
            self.invoices[invoice.id] = invoice
        return shipment, invoice

    def _posted(
        self, order: Entity, lines: list[Entity], kind: str, prefix: str, quantity_key: str
    ) -> Entity:
        posted_id = self.guid()
        today = datetime.now(UTC).date().isoformat()
        data: dict[str, Any] = {
            "id": posted_id,
            "number": self._number(kind, prefix),
            "externalDocumentNumber": order.data["externalDocumentNumber"],
            "orderId": order.id,
            "orderNumber": order.data["number"],
            "customerId": order.data["customerId"],
            "customerNumber": order.data["customerNumber"],
            "customerName": order.data["customerName"],
            "postingDate": today,
            "currencyCode": order.data["currencyCode"],
            "lastModifiedDateTime": self.stamp(),
        }
        if kind == "shipment":
            data["shipmentDate"] = today
        else:
            data.update({"invoiceDate": today, "dueDate": today, "status": "Open"})
        total = Decimal(0)
        children = []
        for index, line in enumerate(lines):
            quantity = line.data[quantity_key]
            amount = quantity * line.data["unitPrice"]
            total += amount
            child: dict[str, Any] = {
                "id": self.guid(),
                "documentId": posted_id,
                "documentNo": data["number"],
                "sequence": (index + 1) * 10000,
                "lineType": line.data["lineType"],
                "lineObjectNumber": line.data["lineObjectNumber"],
                "description": line.data["description"],
                "unitOfMeasureCode": line.data["unitOfMeasureCode"],
                "quantity": quantity,
                "unitPrice": line.data["unitPrice"],
            }
            if kind == "invoice":
                child.update(
                    {
                        "itemId": line.data["itemId"],
                        "accountId": line.data["accountId"],
                        "amountExcludingTax": amount,
                        "amountIncludingTax": amount,
                    }
                )
            children.append(Entity(child))
        if kind == "invoice":
            data["totalAmountExcludingTax"] = total
            data["totalTaxAmount"] = Decimal(0)
            data["totalAmountIncludingTax"] = total
        return Entity(data, children=children)

    # -- sales credit memos ----------------------------------------------------------------

    def create_credit_memo(self, body: Mapping[str, Any]) -> Entity:
        """Insert a draft sales credit memo with its lines (deep insert).

        The customer is ``customerId`` or ``customerNumber``, else the customer of the
        invoice named by ``invoiceId`` or ``invoiceNumber`` (which it then applies to).

        Raises:
            ODataError: A missing customer, an unknown invoice or item, a read-only field.
        """
        check_external(body.get("externalDocumentNumber"))
        read_only = sorted(set(body) & {"number", "status", "totalAmountIncludingTax"})
        if read_only:
            raise ODataError(400, "BadRequest", f"The property '{read_only[0]}' is read-only.")
        invoice = self._credited_invoice(body)
        if invoice is not None and not (body.get("customerId") or body.get("customerNumber")):
            customer = self.customer_by(id=str(invoice.data["customerId"]))
        else:
            customer = self._order_customer(body)
        if invoice is not None and invoice.data["customerId"] != customer.id:
            raise dialog(
                f"Invoice {invoice.data['number']} was not issued to customer "
                f"{customer.data['number']}."
            )
        memo_id = self.guid()
        today = datetime.now(UTC).date().isoformat()
        data: dict[str, Any] = {
            "id": memo_id,
            "number": self._number("credit_memo", "S-CR"),
            "externalDocumentNumber": "",
            "creditMemoDate": today,
            "postingDate": today,
            "dueDate": today,
            "customerId": customer.id,
            "customerNumber": customer.data["number"],
            "customerName": customer.data["displayName"],
            "invoiceId": ZERO_GUID,
            "invoiceNumber": "",
            "currencyCode": customer.data["currencyCode"],
            "pricesIncludeTax": False,
            "discountAmount": Decimal(0),
            "totalAmountExcludingTax": Decimal(0),
            "totalTaxAmount": Decimal(0),
            "totalAmountIncludingTax": Decimal(0),
            "status": "Draft",
            "phoneNumber": customer.data["phoneNumber"],
            "email": customer.data["email"],
        }
        data.update(
            {
                k: v
                for k, v in body.items()
                if k in CREDIT_MEMO_FIELDS and k not in {"customerId", "invoiceId"}
            }
        )
        data["customerId"] = customer.id
        data["customerNumber"] = customer.data["number"]
        data["discountAmount"] = _number(data["discountAmount"], "discountAmount")
        if invoice is not None:
            data["invoiceId"] = invoice.id
            data["invoiceNumber"] = invoice.data["number"]
        memo = Entity(data)
        for index, line in enumerate(body.get("salesCreditMemoLines") or []):
            memo.children.append(Entity(self._document_line(memo_id, (index + 1) * 10000, line)))
        self._recompute(memo)
        data["lastModifiedDateTime"] = self.stamp()
        self.credit_memos[memo_id] = memo
        return memo

    def _credited_invoice(self, body: Mapping[str, Any]) -> Entity | None:
        invoice_id = str(body.get("invoiceId") or "")
        number = str(body.get("invoiceNumber") or "")
        if invoice_id in {"", ZERO_GUID} and not number:
            return None
        for invoice in self.invoices.values():
            if invoice.id == invoice_id or (number and invoice.data["number"] == number):
                return invoice
        raise not_found("Sales Invoice Header", f"No.='{number or invoice_id}'")

    def credit_memo(self, memo_id: str) -> Entity:
        """A sales credit memo by id.

        Raises:
            ODataError: ``Internal_RecordNotFound``.
        """
        found = self.credit_memos.get(memo_id)
        if found is None:
            raise not_found("Sales Header", f"Document Type='Credit Memo',SystemId='{memo_id}'")
        return found

    def update_credit_memo(
        self, memo: Entity, changes: Mapping[str, Any], if_match: str | None, conflict_status: int
    ) -> Entity:
        """PATCH a draft credit memo's header under ``If-Match``.

        Raises:
            ODataError: As `update`; ``Application_DialogException`` once it is posted.
        """
        check_if_match(memo, if_match, conflict_status)
        _draft(memo, "change")
        if "externalDocumentNumber" in changes:
            check_external(changes["externalDocumentNumber"])
        after = dict(changes)
        if "discountAmount" in after:
            after["discountAmount"] = _number(after["discountAmount"], "discountAmount")
        self.update(
            memo, after, if_match, writable=CREDIT_MEMO_WRITABLE, conflict_status=conflict_status
        )
        self._recompute(memo)
        return memo

    def update_credit_memo_line(
        self,
        memo: Entity,
        line: Entity,
        changes: Mapping[str, Any],
        if_match: str | None,
        conflict_status: int,
    ) -> Entity:
        """PATCH a line of a draft credit memo (quantity, price, discount, description).

        Raises:
            ODataError: As `update`; ``Application_DialogException`` once it is posted, or
                for a negative quantity.
        """
        check_if_match(line, if_match, conflict_status)
        _draft(memo, "change")
        numbers = {"quantity", "unitPrice", "discountAmount"}
        after = {k: _number(v, k) if k in numbers else v for k, v in changes.items()}
        if after.get("quantity", Decimal(0)) < 0:
            raise dialog("Quantity must be positive.")
        self.update(
            line,
            after,
            if_match,
            writable=["quantity", "unitPrice", "discountAmount", "description"],
            conflict_status=conflict_status,
        )
        self._recompute(memo)
        self.touch(memo)
        return line

    def delete_credit_memo(self, memo: Entity, if_match: str | None, conflict_status: int) -> None:
        """DELETE a draft credit memo under ``If-Match`` (a posted one stays)."""
        check_if_match(memo, if_match, conflict_status)
        _draft(memo, "delete")
        del self.credit_memos[memo.id]

    def post_credit_memo(self, memo: Entity) -> Entity:
        """Post a draft credit memo: status ``Open``, a posted number, Item units back in stock.

        Raises:
            ODataError: ``Application_DialogException`` when it is posted already or has
                nothing to post.
        """
        if memo.data["status"] != "Draft":
            raise dialog(
                f"Sales credit memo {memo.data['number']} is already posted "
                f"(status {memo.data['status']})."
            )
        lines = [
            line
            for line in memo.children
            if line.data["lineType"] != "Comment" and line.data["quantity"] > 0
        ]
        if not lines:
            raise dialog("There is nothing to post.")
        for line in lines:
            if line.data["lineType"] == "Item":
                self.adjust_inventory(line.data["lineObjectNumber"], line.data["quantity"])
        memo.data["number"] = self._number("posted_credit_memo", "PS-CR")
        memo.data["status"] = "Open"
        memo.data["postingDate"] = datetime.now(UTC).date().isoformat()
        self.touch(memo)
        return memo


def _fully(order: Entity, key: str) -> bool:
    return all(
        line.data[key] >= line.data["quantity"]
        for line in order.children
        if line.data["lineType"] != "Comment"
    )


def _most_to_invoice(line: Mapping[str, Any]) -> Decimal:
    """What a line can invoice: shipped and not invoiced, plus what is to ship now."""
    most: Decimal = line["shippedQuantity"] + line["shipQuantity"] - line["invoicedQuantity"]
    return most


def _number(value: Any, name: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise ODataError(400, "BadRequest", f"The value of '{name}' is not a number.") from None
    if not number.is_finite():
        raise ODataError(400, "BadRequest", f"The value of '{name}' is not a number.")
    return number


def _draft(memo: Entity, what: str) -> None:
    if memo.data["status"] != "Draft":
        raise dialog(
            f"You cannot {what} sales credit memo {memo.data['number']}: it is posted "
            f"(status {memo.data['status']})."
        )


def check_external(value: Any) -> None:
    """Refuse an ``externalDocumentNumber`` longer than BC's Code[35]."""
    external = str(value or "")
    if len(external) > EXTERNAL_DOCUMENT_MAX:
        raise ODataError(
            400,
            "BadRequest",
            f"The length of the string is {len(external)}, but it must be less than or "
            f"equal to {EXTERNAL_DOCUMENT_MAX} characters. Value: " + external,
        )


def check_if_match(entity: Entity, if_match: str | None, conflict_status: int) -> None:
    """Refuse a write without ``If-Match``, or with an ETag that is no longer current.

    Raises:
        ODataError: 400 when the header is missing; ``Request_EntityChanged`` with
            ``conflict_status`` (409 or 412) when the ETag is stale.
    """
    if if_match is None or not if_match.strip():
        raise ODataError(
            400,
            "BadRequest_RequiredParamNotProvided",
            "Could not validate the client concurrency token required by the service. "
            "Please provide a valid token in the client request.",
        )
    if if_match.strip() == "*":
        return
    offered = {tag.strip() for tag in if_match.split(",")}
    if entity.etag not in offered:
        raise ODataError(conflict_status, "Request_EntityChanged", ENTITY_CHANGED_MESSAGE)
