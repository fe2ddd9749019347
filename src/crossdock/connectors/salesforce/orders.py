"""Pure mapping of a Salesforce Order (with its OrderItems) to the canonical order.

Input is one record of a SOQL query result, or the whole result with exactly one record, e.g.
``SELECT Id, OrderNumber, ..., Account.Name, (SELECT ... , Product2.SKU__c FROM OrderItems)
FROM Order``. Salesforce sends currency fields as JSON numbers: decode the body with
`crossdock.canonical.money.decimal_json_loads` so they arrive as `Decimal`.

Salesforce's standard Order has no tax or shipping: `TotalAmount` is the sum of the items'
`TotalPrice` (quantity × negotiated `UnitPrice`); tax is computed later by the ERP.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crossdock.canonical.address import Address
from crossdock.canonical.mapping import (
    MappingError,
    blank_to_none,
    decimal,
    quantity,
    timestamp,
    timestamp_or_none,
)
from crossdock.canonical.money import Money
from crossdock.canonical.order import Cancellation, Order, OrderLine, OrderTotals, parse_order
from crossdock.canonical.refs import CustomerRef

__all__ = ["order_from_salesforce"]

Payload = Mapping[str, Any]

_STATUS = {"draft": "draft", "activated": "open", "closed": "closed", "cancelled": "cancelled"}


def order_from_salesforce(payload: Payload, *, default_currency: str | None = None) -> Order:
    """Map a Salesforce Order record (or a one-record query result) to an `Order`.

    Args:
        payload: the decoded JSON.
        default_currency: the org's currency, used when `CurrencyIsoCode` is absent (orgs without
            multi-currency do not have the field).

    Raises:
        OrderTotalsMismatch: `TotalAmount` differs from the sum of the items.
        MappingError: a field cannot be read (no currency, a fractional quantity, a float).
    """
    record = _single_record(payload)
    currency = blank_to_none(record.get("CurrencyIsoCode")) or default_currency
    if currency is None:
        raise MappingError("salesforce order: no CurrencyIsoCode and no default currency given")
    items = (record.get("OrderItems") or {}).get("records") or []
    status = _STATUS.get(
        str(record.get("StatusCode") or record.get("Status") or "").lower(), "open"
    )
    account = record.get("Account") or {}
    contact = record.get("BillToContact") or {}
    data: dict[str, Any] = {
        "number": str(record.get("OrderNumber") or record.get("Id")),
        "channel": "salesforce:b2b",
        "customer": CustomerRef(
            kind="business",
            account_name=blank_to_none(account.get("Name")),
            name=blank_to_none(contact.get("Name")),
            email=blank_to_none(contact.get("Email")),
        ),
        "email": blank_to_none(contact.get("Email")),
        "purchase_order": blank_to_none(record.get("PoNumber")),
        "billing_address": _address(record, "Billing", account.get("Name")),
        "shipping_address": _address(record, "Shipping", account.get("Name")),
        "currency": currency,
        "lines": [_line(item, currency) for item in items],
        "totals": OrderTotals(total=_money(record.get("TotalAmount"), currency, "TotalAmount")),
        "status": status,
        "cancellation": (
            Cancellation(
                reason="other",
                cancelled_at=timestamp(record.get("LastModifiedDate"), field="LastModifiedDate"),
            )
            if status == "cancelled"
            else None
        ),
        "placed_at": timestamp(
            record.get("ActivatedDate") or record.get("CreatedDate") or record.get("EffectiveDate"),
            field="CreatedDate",
        ),
        "updated_at": timestamp_or_none(record.get("LastModifiedDate"), field="LastModifiedDate"),
        "note": blank_to_none(record.get("Description")),
    }
    return parse_order(data)


def _single_record(payload: Payload) -> Payload:
    if "records" not in payload:
        return payload
    records = payload["records"]
    if len(records) != 1:
        raise MappingError(f"salesforce order: expected one record, got {len(records)}")
    record: Payload = records[0]
    return record


def _line(item: Payload, currency: str) -> OrderLine:
    product = item.get("Product2") or {}
    sku = (
        blank_to_none(product.get("SKU__c"))
        or blank_to_none(product.get("StockKeepingUnit"))
        or blank_to_none(product.get("ProductCode"))
    )
    where = f"OrderItems[{item.get('Id')}]"
    return OrderLine(
        line_id=str(item.get("Id") or item.get("OrderItemNumber")),
        sku=sku,
        title=blank_to_none(product.get("Name"))
        or blank_to_none(item.get("Description"))
        or sku
        or "(item)",
        quantity=quantity(item.get("Quantity"), field=f"{where}.Quantity"),
        unit_price=_money(item.get("UnitPrice"), currency, f"{where}.UnitPrice"),
    )


def _address(record: Payload, prefix: str, company: Any) -> Address | None:
    street = blank_to_none(record.get(f"{prefix}Street"))
    city = blank_to_none(record.get(f"{prefix}City"))
    if street is None and city is None:
        return None
    lines = (street or "").split("\n", 1)
    code = blank_to_none(record.get(f"{prefix}CountryCode"))
    return Address(
        company=blank_to_none(company),
        line1=blank_to_none(lines[0]),
        line2=blank_to_none(lines[1]) if len(lines) > 1 else None,
        city=city,
        region=blank_to_none(record.get(f"{prefix}State")),
        region_code=blank_to_none(record.get(f"{prefix}StateCode")),
        postal_code=blank_to_none(record.get(f"{prefix}PostalCode")),
        country=blank_to_none(record.get(f"{prefix}Country")),
        country_code=code.upper() if code else None,
    )


def _money(value: Any, currency: str, field: str) -> Money:
    return Money(decimal(value, field=field), currency)
