"""One Business Central company in memory: customers, items, sales orders, shipments, invoices.

Every entity carries a version behind its weak ETag and a strictly increasing
``lastModifiedDateTime``. Money and quantities are `Decimal`.
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
        self._numbers = {"order": 101000, "shipment": 102000, "invoice": 103000, "customer": 50000}
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
        external = str(body.get("externalDocumentNumber") or "")
        if len(external) > 35:
            raise ODataError(
                400,
                "BadRequest",
                f"The length of the string is {len(external)}, but it must be less than or "
                "equal to 35 characters. Value: " + external,
            )
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
        line_type = str(body.get("lineType", "Item"))
        if line_type not in {"Item", "Comment", "Account"}:
            raise ODataError(400, "BadRequest", f"The lineType '{line_type}' is not supported.")
        data: dict[str, Any] = {
            "id": self.guid(),
            "documentId": order_id,
            "sequence": sequence,
            "itemId": ZERO_GUID,
            "accountId": ZERO_GUID,
            "lineType": line_type,
            "lineObjectNumber": str(body.get("lineObjectNumber", "")),
            "description": str(body.get("description", "")),
            "unitOfMeasureCode": "",
            "quantity": Decimal(str(body.get("quantity", 0))),
            "unitPrice": Decimal(0),
            "discountAmount": Decimal(str(body.get("discountAmount", 0))),
            "discountPercent": Decimal(0),
            "taxCode": "",
            "taxPercent": Decimal(0),
            "amountExcludingTax": Decimal(0),
            "amountIncludingTax": Decimal(0),
            "shipmentDate": datetime.now(UTC).date().isoformat(),
            "shipQuantity": Decimal(0),
            "shippedQuantity": Decimal(0),
            "invoiceQuantity": Decimal(0),
            "invoicedQuantity": Decimal(0),
            "itemVariantId": ZERO_GUID,
            "locationId": ZERO_GUID,
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
        data["shipQuantity"] = data["quantity"] if line_type != "Comment" else Decimal(0)
        data["invoiceQuantity"] = data["shipQuantity"]
        return Entity(data)

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
        """PATCH a sales order line (quantities to ship and invoice, quantity, price).

        Raises:
            ODataError: As `update`; ``Application_DialogException`` when more would be
                shipped than is outstanding.
        """
        writable = ["quantity", "unitPrice", "description", "shipQuantity", "invoiceQuantity"]
        check_if_match(line, if_match, conflict_status)
        numbers = {"quantity", "unitPrice", "shipQuantity", "invoiceQuantity"}
        try:
            after = {k: Decimal(str(v)) if k in numbers else v for k, v in changes.items()}
        except ArithmeticError:
            raise ODataError(400, "BadRequest", "A quantity or price is not a number.") from None
        prospective = {**line.data, **after}
        outstanding = prospective["quantity"] - prospective["shippedQuantity"]
        if not Decimal(0) <= prospective["shipQuantity"] <= outstanding:
            raise dialog(f"You cannot ship more than {outstanding} units.")
        self.update(line, after, if_match, writable=writable, conflict_status=conflict_status)
        self._recompute(order)
        self.touch(order)
        return line

    def delete_order(self, order: Entity, if_match: str | None, conflict_status: int) -> None:
        """DELETE a sales order under ``If-Match``."""
        check_if_match(order, if_match, conflict_status)
        if any(line.data["shippedQuantity"] for line in order.children):
            raise dialog("You cannot delete the order: it has posted shipments.")
        del self.orders[order.id]

    # -- posting ---------------------------------------------------------------------------

    def ship_and_invoice(self, order: Entity) -> tuple[Entity, Entity]:
        """Post what each line's ``shipQuantity`` says: a shipment and an invoice.

        Inventory moves out, shipped and invoiced quantities grow, the order is released.

        Raises:
            ODataError: ``Application_DialogException`` when there is nothing to post or an
                item's inventory is short.
        """
        to_ship = [
            line
            for line in order.children
            if line.data["lineType"] != "Comment" and line.data["shipQuantity"] > 0
        ]
        if not to_ship:
            raise dialog("There is nothing to post.")
        for line in to_ship:
            if line.data["lineType"] != "Item":
                continue
            item = self.item_by_number(line.data["lineObjectNumber"])
            if item.data["inventory"] < line.data["shipQuantity"]:
                raise dialog(
                    f"You have insufficient quantity of Item {item.data['number']} on inventory."
                )
        shipment = self._posted(order, to_ship, "shipment", "S-SHPT", "shipQuantity")
        invoice = self._posted(order, to_ship, "invoice", "S-INV", "invoiceQuantity")
        for line in to_ship:
            quantity = line.data["shipQuantity"]
            if line.data["lineType"] == "Item":
                self.adjust_inventory(line.data["lineObjectNumber"], -quantity)
            line.data["shippedQuantity"] += quantity
            line.data["invoicedQuantity"] += quantity
            remaining = line.data["quantity"] - line.data["shippedQuantity"]
            line.data["shipQuantity"] = remaining
            line.data["invoiceQuantity"] = remaining
            line.version += 1
        order.data["status"] = "Released"
        order.data["fullyShipped"] = all(
            line.data["shippedQuantity"] >= line.data["quantity"]
            for line in order.children
            if line.data["lineType"] != "Comment"
        )
        self.touch(order)
        self.shipments[shipment.id] = shipment
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
            data.update({"invoiceDate": today, "status": "Open"})
        total = Decimal(0)
        children = []
        for index, line in enumerate(lines):
            quantity = line.data[quantity_key]
            amount = quantity * line.data["unitPrice"]
            total += amount
            children.append(
                Entity(
                    {
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
                )
            )
        if kind == "invoice":
            data["totalAmountIncludingTax"] = total
        return Entity(data, children=children)


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
