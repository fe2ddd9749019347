"""Pure mapping of a NetSuite salesOrder record (REST record API JSON) to the canonical order.

Input is ``GET record/v1/salesOrder/{id}?expandSubResources=true``: the item sublist is
``{"item": {"items": [...]}}`` and addresses are expanded subrecords. NetSuite sends `rate`,
`amount` and the header totals as JSON numbers: decode with
`crossdock.canonical.money.decimal_json_loads`.

Header fields used for totals: `subtotal` (Σ line amounts), `discountTotal` (negative),
`shippingCost`, `taxTotal`, `total`. The header discount becomes an order-level discount and the
header tax an order-level tax line, since lines carry no tax amounts in this record.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
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
from crossdock.canonical.money import Money, is_known_currency
from crossdock.canonical.order import (
    Cancellation,
    Order,
    OrderLine,
    OrderTotals,
    ShippingLine,
    parse_order,
)
from crossdock.canonical.refs import CustomerRef

__all__ = ["order_from_netsuite"]

Payload = Mapping[str, Any]

# salesOrder status ids: A pending approval, B pending fulfilment, C cancelled, D partially
# fulfilled, E pending billing/partially fulfilled, F pending billing, G billed, H closed.
_STATUS = {"A": "draft", "C": "cancelled", "G": "closed", "H": "closed"}


def order_from_netsuite(payload: Payload, *, default_currency: str | None = None) -> Order:
    """Map a NetSuite salesOrder record to an `Order`.

    Args:
        payload: the decoded record JSON.
        default_currency: used when `currency.refName` is not an ISO 4217 code (accounts may
            name currencies freely, e.g. "US Dollar").

    Raises:
        OrderTotalsMismatch: `total` differs from the sum of its parts.
        MappingError: a field cannot be read.
    """
    currency = _currency(payload, default_currency)
    items = (payload.get("item") or {}).get("items") or []
    discount = _money(payload.get("discountTotal") or 0, currency, "discountTotal")
    shipping_cost = payload.get("shippingCost")
    tax_total = payload.get("taxTotal")
    status = _STATUS.get(str((payload.get("status") or {}).get("id") or ""), "open")
    updated = timestamp_or_none(payload.get("lastModifiedDate"), field="lastModifiedDate")
    data: dict[str, Any] = {
        "number": str(payload.get("tranId") or payload.get("id")),
        "channel": "netsuite",
        "customer": _customer(payload),
        "email": blank_to_none(payload.get("email")),
        "purchase_order": blank_to_none(payload.get("otherRefNum")),
        "billing_address": _address(payload.get("billingAddress")),
        "shipping_address": _address(payload.get("shippingAddress")),
        "currency": currency,
        "lines": [_line(item, currency) for item in items],
        "shipping_lines": (
            [
                ShippingLine(
                    title=_ref_name(payload.get("shipMethod")) or "Shipping",
                    price=_money(shipping_cost, currency, "shippingCost"),
                )
            ]
            if shipping_cost is not None
            else []
        ),
        "order_discounts": (
            [DiscountAllocation(amount=abs(discount), title=_ref_name(payload.get("discountItem")))]
            if not discount.is_zero()
            else []
        ),
        "order_tax_lines": (
            [TaxLine(title="Tax", amount=_money(tax_total, currency, "taxTotal"))]
            if tax_total is not None
            else []
        ),
        "totals": OrderTotals(
            subtotal=_optional_money(payload.get("subtotal"), currency, "subtotal"),
            discounts=abs(discount),
            shipping=_optional_money(shipping_cost, currency, "shippingCost"),
            tax=_optional_money(tax_total, currency, "taxTotal"),
            total=_money(payload.get("total"), currency, "total"),
        ),
        "status": status,
        "cancellation": _cancellation(status, updated),
        "placed_at": timestamp(
            payload.get("createdDate") or payload.get("tranDate"), field="createdDate"
        ),
        "updated_at": updated,
        "note": blank_to_none(payload.get("memo")),
    }
    return parse_order(data)


def _currency(payload: Payload, default: str | None) -> str:
    for candidate in (_ref_name(payload.get("currency")), payload.get("currencySymbol"), default):
        if isinstance(candidate, str) and is_known_currency(candidate):
            return candidate
    raise MappingError(
        f"netsuite salesOrder {payload.get('id')}: cannot tell the ISO currency from "
        f"{payload.get('currency')!r}; pass default_currency"
    )


def _line(item: Payload, currency: str) -> OrderLine:
    line = item.get("line")
    where = f"item.items[line {line}]"
    sku = _ref_name(item.get("item"))
    return OrderLine(
        line_id=str(line if line is not None else (item.get("item") or {}).get("id")),
        sku=sku,
        title=blank_to_none(item.get("description")) or sku or "(item)",
        quantity=quantity(item.get("quantity"), field=f"{where}.quantity"),
        unit_price=_money(item.get("rate"), currency, f"{where}.rate"),
    )


def _customer(payload: Payload) -> CustomerRef | None:
    entity = payload.get("entity")
    if not entity:
        return None
    return CustomerRef(
        kind="business", account_name=_ref_name(entity), email=blank_to_none(payload.get("email"))
    )


def _address(raw: Any) -> Address | None:
    if not raw:
        return None
    country = raw.get("country")
    code = (
        blank_to_none(country.get("id")) if isinstance(country, Mapping) else blank_to_none(country)
    )
    return Address(
        name=blank_to_none(raw.get("attention")) or blank_to_none(raw.get("addressee")),
        company=blank_to_none(raw.get("addressee")),
        line1=blank_to_none(raw.get("addr1")),
        line2=blank_to_none(raw.get("addr2")),
        city=blank_to_none(raw.get("city")),
        region=blank_to_none(raw.get("state")),
        postal_code=blank_to_none(raw.get("zip")),
        country=_ref_name(country) if isinstance(country, Mapping) else None,
        country_code=code if code and len(code) == 2 and code.isupper() else None,
        phone=blank_to_none(raw.get("addrPhone")),
    )


def _cancellation(status: str, updated: datetime | None) -> Cancellation | None:
    if status != "cancelled":
        return None
    if updated is None:
        raise MappingError("netsuite salesOrder: cancelled but no lastModifiedDate")
    return Cancellation(reason="other", cancelled_at=updated)


def _ref_name(ref: Any) -> str | None:
    return blank_to_none(ref.get("refName")) if isinstance(ref, Mapping) else None


def _money(value: Any, currency: str, field: str) -> Money:
    return Money(decimal(value, field=field), currency)


def _optional_money(value: Any, currency: str, field: str) -> Money | None:
    return None if value is None else _money(value, currency, field)
