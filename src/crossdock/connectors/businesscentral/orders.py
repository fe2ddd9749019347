"""Pure mapping of a Business Central API v2.0 salesOrder (lines expanded) to the canonical order.

Input is ``GET .../salesOrders({id})?$expand=salesOrderLines``. Amounts and quantities are JSON
numbers: decode with `crossdock.canonical.money.decimal_json_loads`.

Quirks handled here:

- ``currencyCode`` is empty for the company's local currency (LCY): pass `local_currency`.
- ``pricesIncludeTax`` true means unit prices contain tax (canonical ``taxes_included``).
- A line's tax is ``amountIncludingTax − amountExcludingTax`` (lines give no tax amount).
- ``Comment`` lines carry text only and are skipped; ``Account``/``Charge``/``Resource`` lines
  (freight, services) become lines without a SKU that need no shipping.
- The header ``discountAmount`` (invoice discount) becomes an order-level discount.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crossdock.canonical.address import Address
from crossdock.canonical.charges import DiscountAllocation, TaxLine
from crossdock.canonical.mapping import (
    MappingError,
    blank_to_none,
    decimal,
    quantity,
    timestamp,
    timestamp_or_none,
)
from crossdock.canonical.money import Money
from crossdock.canonical.order import Order, OrderLine, OrderTotals, parse_order
from crossdock.canonical.refs import CustomerRef

__all__ = ["order_from_businesscentral"]

Payload = Mapping[str, Any]

_STATUS = {"draft": "draft"}  # Open, Released, Pending Approval, Pending Prepayment: open


def order_from_businesscentral(payload: Payload, *, local_currency: str | None = None) -> Order:
    """Map a Business Central salesOrder (lines expanded) to an `Order`.

    Args:
        payload: the decoded entity JSON.
        local_currency: the company's local currency, used when ``currencyCode`` is empty.

    Raises:
        OrderTotalsMismatch: ``totalAmountIncludingTax`` (or the tax) differs from the lines.
        MappingError: a field cannot be read, or the lines were not expanded.
    """
    currency = blank_to_none(payload.get("currencyCode")) or local_currency
    if currency is None:
        raise MappingError(
            f"business central salesOrder {payload.get('number')}: empty currencyCode means the "
            "company's local currency; pass local_currency"
        )
    if "salesOrderLines" not in payload:
        raise MappingError("business central salesOrder: request it with $expand=salesOrderLines")
    lines = [
        _line(line, currency)
        for line in payload["salesOrderLines"]
        if str(line.get("lineType")) != "Comment"
    ]
    discount = _money(payload.get("discountAmount") or 0, currency, "discountAmount")
    customer_name = blank_to_none(payload.get("customerName"))
    data: dict[str, Any] = {
        "number": str(payload.get("number")),
        "channel": "businesscentral",
        "customer": CustomerRef(
            kind="business", account_name=customer_name, email=blank_to_none(payload.get("email"))
        ),
        "email": blank_to_none(payload.get("email")),
        "phone": blank_to_none(payload.get("phoneNumber")),
        "purchase_order": blank_to_none(payload.get("externalDocumentNumber")),
        "billing_address": _address(payload, "billTo"),
        "shipping_address": _address(payload, "shipTo"),
        "currency": currency,
        "taxes_included": bool(payload.get("pricesIncludeTax")),
        "lines": lines,
        "order_discounts": []
        if discount.is_zero()
        else [DiscountAllocation(amount=discount, title="invoice discount")],
        "totals": OrderTotals(
            subtotal=_optional(
                payload.get("totalAmountExcludingTax"), currency, "totalAmountExcludingTax"
            ),
            discounts=discount,
            tax=_optional(payload.get("totalTaxAmount"), currency, "totalTaxAmount"),
            total=_money(
                payload.get("totalAmountIncludingTax"), currency, "totalAmountIncludingTax"
            ),
        ),
        "status": _STATUS.get(str(payload.get("status") or "").lower(), "open"),
        "placed_at": timestamp(payload.get("orderDate"), field="orderDate"),
        "updated_at": timestamp_or_none(
            payload.get("lastModifiedDateTime"), field="lastModifiedDateTime"
        ),
    }
    return parse_order(data)


def _line(line: Payload, currency: str) -> OrderLine:
    where = f"salesOrderLines[{line.get('sequence')}]"
    line_type = str(line.get("lineType"))
    excluding = _money(line.get("amountExcludingTax") or 0, currency, f"{where}.amountExcludingTax")
    including = _money(line.get("amountIncludingTax") or 0, currency, f"{where}.amountIncludingTax")
    tax = including - excluding
    discount = _money(line.get("discountAmount") or 0, currency, f"{where}.discountAmount")
    allocation = line.get("invoiceDiscountAllocation") or 0
    discounts = (
        [] if discount.is_zero() else [DiscountAllocation(amount=discount, title="line discount")]
    )
    if allocation:
        discounts.append(
            DiscountAllocation(
                amount=_money(allocation, currency, f"{where}.invoiceDiscountAllocation"),
                title="invoice discount",
            )
        )
    number = blank_to_none(line.get("lineObjectNumber"))
    return OrderLine(
        line_id=str(line.get("sequence") or line.get("id")),
        sku=number if line_type == "Item" else None,
        title=blank_to_none(line.get("description")) or number or line_type,
        quantity=quantity(line.get("quantity"), field=f"{where}.quantity"),
        unit_price=_money(line.get("unitPrice"), currency, f"{where}.unitPrice"),
        discount_allocations=discounts,
        tax_lines=[]
        if tax.is_zero()
        else [
            TaxLine(
                title=blank_to_none(line.get("taxCode")) or "Tax",
                rate=_rate(line.get("taxPercent"), where),
                amount=tax,
            )
        ],
        taxable=not tax.is_zero(),
        requires_shipping=line_type == "Item",
    )


def _rate(percent: Any, where: str) -> Any:
    if percent is None:
        return None
    return decimal(percent, field=f"{where}.taxPercent").scaleb(-2)


def _address(payload: Payload, prefix: str) -> Address | None:
    line1 = blank_to_none(payload.get(f"{prefix}AddressLine1"))
    city = blank_to_none(payload.get(f"{prefix}City"))
    if line1 is None and city is None:
        return None
    country = blank_to_none(payload.get(f"{prefix}Country"))
    return Address(
        name=blank_to_none(payload.get(f"{prefix}Contact"))
        or blank_to_none(payload.get(f"{prefix}Name")),
        company=blank_to_none(payload.get(f"{prefix}Name")),
        line1=line1,
        line2=blank_to_none(payload.get(f"{prefix}AddressLine2")),
        city=city,
        region=blank_to_none(payload.get(f"{prefix}State")),
        postal_code=blank_to_none(payload.get(f"{prefix}PostCode")),
        country=country,
        country_code=country if country and len(country) == 2 and country.isupper() else None,
    )


def _money(value: Any, currency: str, field: str) -> Money:
    return Money(decimal(value, field=field), currency)


def _optional(value: Any, currency: str, field: str) -> Money | None:
    return None if value is None else _money(value, currency, field)
