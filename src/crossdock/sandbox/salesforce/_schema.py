"""The objects the simulated org has: fields, required fields, lookups and external ids.

Kinds: ``text``, ``bool``, ``number`` (Decimal), ``date`` (``YYYY-MM-DD``), ``datetime``,
``id`` (a lookup to ``ref``). Read-only fields refuse writes with
INVALID_FIELD_FOR_INSERT_UPDATE; unknown fields are INVALID_FIELD.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldSpec:
    """One field of an object."""

    name: str
    kind: str = "text"
    ref: str | None = None
    required: bool = False
    readonly: bool = False
    external_id: bool = False
    unique: bool = False
    relationship: str | None = None


@dataclass(frozen=True)
class ObjectSpec:
    """One object type (``Account``, ``Order``...)."""

    name: str
    fields: dict[str, FieldSpec] = field(default_factory=dict)
    cdc: bool = False

    def external_ids(self) -> list[str]:
        """Names of the fields an upsert may key on (``Id`` included)."""
        return ["Id", *(f.name for f in self.fields.values() if f.external_id)]

    def relationships(self) -> dict[str, FieldSpec]:
        """Lookup fields by relationship name (``Account`` for ``AccountId``)."""
        return {f.relationship: f for f in self.fields.values() if f.relationship}


_SYSTEM = (
    FieldSpec("Id", "id", readonly=True),
    FieldSpec("CreatedDate", "datetime", readonly=True),
    FieldSpec("LastModifiedDate", "datetime", readonly=True),
    FieldSpec("SystemModstamp", "datetime", readonly=True),
    FieldSpec("CreatedById", "id", ref="User", readonly=True),
    FieldSpec("LastModifiedById", "id", ref="User", readonly=True),
    FieldSpec("IsDeleted", "bool", readonly=True),
)


def _ref(name: str, target: str, *, required: bool = False) -> FieldSpec:
    return FieldSpec(name, "id", ref=target, required=required, relationship=name[:-2])


def _ext(name: str, *, unique: bool = True) -> FieldSpec:
    return FieldSpec(name, external_id=True, unique=unique)


def _address(prefix: str) -> tuple[FieldSpec, ...]:
    return tuple(
        FieldSpec(f"{prefix}{part}")
        for part in ("Street", "City", "State", "StateCode", "PostalCode", "Country", "CountryCode")
    )


def _object(name: str, *fields: FieldSpec, cdc: bool = False) -> ObjectSpec:
    return ObjectSpec(name, {f.name: f for f in (*_SYSTEM, *fields)}, cdc=cdc)


OBJECTS: dict[str, ObjectSpec] = {
    spec.name: spec
    for spec in (
        _object(
            "Account",
            FieldSpec("Name", required=True),
            FieldSpec("AccountNumber"),
            FieldSpec("Type"),
            FieldSpec("Industry"),
            FieldSpec("Website"),
            FieldSpec("Phone"),
            FieldSpec("Description"),
            FieldSpec("CurrencyIsoCode"),
            *_address("Billing"),
            *_address("Shipping"),
            _ext("Shopify_Customer_Id__c"),
            _ext("ERP_Id__c"),
            _ext("Legacy_Id__c", unique=False),
            cdc=True,
        ),
        _object(
            "Contact",
            FieldSpec("FirstName"),
            FieldSpec("LastName", required=True),
            FieldSpec("Name", readonly=True),
            _ref("AccountId", "Account"),
            FieldSpec("Email"),
            FieldSpec("Phone"),
            FieldSpec("Title"),
            _ext("Shopify_Customer_Id__c"),
            _ext("ERP_Id__c"),
            _ext("Legacy_Id__c", unique=False),
            cdc=True,
        ),
        _object(
            "Product2",
            FieldSpec("Name", required=True),
            FieldSpec("ProductCode"),
            FieldSpec("IsActive", "bool"),
            FieldSpec("Description"),
            _ext("SKU__c"),
            _ext("ERP_Id__c"),
        ),
        _object(
            "Pricebook2",
            FieldSpec("Name", required=True),
            FieldSpec("IsActive", "bool"),
            FieldSpec("IsStandard", "bool", readonly=True),
        ),
        _object(
            "PricebookEntry",
            _ref("Pricebook2Id", "Pricebook2", required=True),
            _ref("Product2Id", "Product2", required=True),
            FieldSpec("UnitPrice", "number", required=True),
            FieldSpec("IsActive", "bool"),
            FieldSpec("CurrencyIsoCode"),
        ),
        _object(
            "Order",
            _ref("AccountId", "Account", required=True),
            FieldSpec("EffectiveDate", "date", required=True),
            FieldSpec("Status", required=True),
            FieldSpec("StatusCode", readonly=True),
            FieldSpec("OrderNumber", readonly=True),
            FieldSpec("TotalAmount", "number", readonly=True),
            FieldSpec("ActivatedDate", "datetime", readonly=True),
            _ref("Pricebook2Id", "Pricebook2"),
            _ref("BillToContactId", "Contact"),
            FieldSpec("PoNumber"),
            FieldSpec("Description"),
            FieldSpec("CurrencyIsoCode"),
            FieldSpec("Type"),
            *_address("Billing"),
            *_address("Shipping"),
            FieldSpec("Tracking_Number__c"),
            FieldSpec("Carrier__c"),
            FieldSpec("Shipped_Date__c", "datetime"),
            _ext("Shopify_Order_Id__c"),
            _ext("ERP_Id__c"),
            cdc=True,
        ),
        _object(
            "OrderItem",
            _ref("OrderId", "Order", required=True),
            _ref("PricebookEntryId", "PricebookEntry", required=True),
            _ref("Product2Id", "Product2"),
            FieldSpec("Quantity", "number", required=True),
            FieldSpec("UnitPrice", "number", required=True),
            FieldSpec("TotalPrice", "number", readonly=True),
            FieldSpec("Description"),
            _ext("Shopify_Line_Item_Id__c"),
        ),
        _object(
            "Case",
            FieldSpec("Subject"),
            FieldSpec("Description"),
            FieldSpec("Status"),
            FieldSpec("Origin"),
            FieldSpec("Priority"),
            FieldSpec("CaseNumber", readonly=True),
            _ref("AccountId", "Account"),
            _ref("ContactId", "Contact"),
            _ext("Hub_Exception_Id__c"),
        ),
    )
}

ORDER_STATUSES = {"Draft": "Draft", "Activated": "Activated", "Shipped": "Activated"}
"""Order ``Status`` picklist values and their ``StatusCode`` category."""
CASE_STATUSES = {"New", "Working", "Escalated", "Closed"}
