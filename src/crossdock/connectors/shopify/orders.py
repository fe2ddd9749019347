"""Pure mapping of Shopify REST order and refund payloads (webhook bodies) to canonical models.

Payloads must be decoded with `crossdock.canonical.money.decimal_json_loads`: Shopify sends money
as decimal strings, but tax `rate` and the refund line `subtotal`/`total_tax` as JSON numbers.
Amounts are taken in the shop currency (`currency`, the plain string fields); the ``*_set`` twins
carry the same shop amounts plus the presentment ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from crossdock.canonical.address import Address
from crossdock.canonical.charges import DiscountAllocation, DiscountCode, TaxLine
from crossdock.canonical.mapping import (
    MappingError,
    blank_to_none,
    decimal,
    quantity,
    timestamp,
    timestamp_or_none,
)
from crossdock.canonical.money import Money
from crossdock.canonical.order import (
    FINANCIAL_STATUSES,
    FULFILLMENT_STATUSES,
    Cancellation,
    Order,
    OrderLine,
    OrderTotals,
    Payment,
    ShippingLine,
    parse_order,
)
from crossdock.canonical.refs import CustomerRef
from crossdock.canonical.returns import Refund, RefundTransaction, ReturnLine

__all__ = ["order_from_shopify", "refund_from_shopify", "return_lines_from_shopify_refund"]

Payload = Mapping[str, Any]

_GATEWAY_METHODS = {
    "gift_card": "gift_card",
    "shopify_payments": "card",
    "paypal": "wallet",
    "shop_pay_installments": "card",
    "bank_deposit": "bank_transfer",
    "cash": "cash",
    "cash_on_delivery": "cash",
    "manual": "other",
}


def order_from_shopify(payload: Payload) -> Order:
    """Map an ``orders/create``, ``orders/updated`` or ``orders/cancelled`` body to an `Order`.

    The order is mapped **as it now stands**, so that an edit or a refund reaches the hub as a
    change of the order and the totals check still holds to the cent:

    - each line carries its ``current_quantity`` (lines edited or refunded down to zero are
      left out; lines added by an order edit are there like any other);
    - the money that left a line is taken from the order's own ``refunds`` records (their
      ``refund_line_items`` ``subtotal``/``total_tax``, which Shopify also writes for units an
      order edit removes), or pro rata for units no record covers; the rest of the line's
      discount and tax stays on it;
    - shipping refunds (``order_adjustments`` of kind ``shipping_refund``) count as a shipping
      discount;
    - the stated totals are ``current_subtotal_price``, ``current_total_tax`` and
      ``current_total_price``.

    An order that shows no edit or refund (no refund records, every ``current_quantity`` equal
    to ``quantity``, the current subtotal equal to the one placed) is mapped as placed and
    checked against ``total_price``, as are a payload without ``current_*`` fields (an older
    shape) and an order with no unit left (fully refunded or cancelled with a refund).
    The money returned is carried by ``refunds/create`` (`refund_from_shopify`).

    Line, shipping-line and order-level taxes: Shopify's order-level ``tax_lines`` aggregate the
    line and shipping taxes, so they are used only when no line or shipping line carries tax.

    Raises:
        OrderTotalsMismatch: the order's stated totals do not add up.
        MappingError: a field cannot be read (e.g. a fractional quantity, a float amount).
        pydantic.ValidationError: the mapped order is otherwise invalid.
    """
    currency = _required(payload, "currency")
    applications: Sequence[Payload] = payload.get("discount_applications") or []
    items: Sequence[Payload] = payload.get("line_items") or []
    lines = [_line(item, currency, applications) for item in items]
    shipping = [
        _shipping(item, currency, applications) for item in payload.get("shipping_lines") or []
    ]
    stated = {
        "subtotal": payload.get("subtotal_price"),
        "tax": payload.get("total_tax"),
        "total": _required(payload, "total_price"),
        "discounts": payload.get("total_discounts"),
    }
    current = _current_lines(payload, items, lines, currency)
    if current is not None:
        lines = current
        shipping = _after_shipping_refunds(payload, shipping, currency)
        stated = {
            "subtotal": payload.get("current_subtotal_price"),
            "tax": payload.get("current_total_tax"),
            "total": payload.get("current_total_price"),
            "discounts": payload.get("current_total_discounts", payload.get("total_discounts")),
        }
    charged_tax = any(line.tax_lines for line in lines) or any(s.tax_lines for s in shipping)
    order_tax = [] if charged_tax else _taxes(payload.get("tax_lines"), currency, "order")
    number = blank_to_none(payload.get("name")) or f"#{payload.get('order_number')}"
    data: dict[str, Any] = {
        "number": number,
        "channel": f"shopify:{blank_to_none(payload.get('source_name')) or 'web'}",
        "customer": _customer(payload),
        "email": blank_to_none(payload.get("email")),
        "phone": blank_to_none(payload.get("phone")),
        "purchase_order": blank_to_none(payload.get("po_number")),
        "billing_address": _address(payload.get("billing_address")),
        "shipping_address": _address(payload.get("shipping_address")),
        "currency": currency,
        "taxes_included": bool(payload.get("taxes_included")),
        "lines": lines,
        "shipping_lines": shipping,
        "order_tax_lines": order_tax,
        "discount_codes": [
            _discount_code(c, currency) for c in payload.get("discount_codes") or []
        ],
        "payments": [_payment(name) for name in payload.get("payment_gateway_names") or []],
        "totals": OrderTotals(
            subtotal=_money(stated["subtotal"], currency, "subtotal_price"),
            discounts=_money(stated["discounts"], currency, "total_discounts"),
            shipping=_sum_money([s.net for s in shipping], currency),
            tax=_money(stated["tax"], currency, "total_tax"),
            total=_money(stated["total"], currency, "total_price"),
        ),
        "status": _status(payload),
        "financial_status": _known(payload.get("financial_status"), FINANCIAL_STATUSES),
        "fulfillment_status": _known(
            payload.get("fulfillment_status") or "unfulfilled", FULFILLMENT_STATUSES
        ),
        "cancellation": _cancellation(payload),
        "placed_at": timestamp(
            payload.get("processed_at") or payload.get("created_at"), field="processed_at"
        ),
        "updated_at": timestamp_or_none(payload.get("updated_at"), field="updated_at"),
        "note": blank_to_none(payload.get("note")),
        "tags": [t.strip() for t in str(payload.get("tags") or "").split(",") if t.strip()],
    }
    return parse_order(data)


def refund_from_shopify(payload: Payload) -> Refund:
    """Map a ``refunds/create`` body to a canonical `Refund`.

    The refund line ``subtotal`` and ``total_tax`` arrive as JSON numbers (decoded as `Decimal`);
    the currency comes from their ``*_set`` twins or the transactions.

    Raises:
        MappingError: no currency can be found, or an amount is a float.
    """
    items: Sequence[Payload] = payload.get("refund_line_items") or []
    transactions: Sequence[Payload] = payload.get("transactions") or []
    currency = _refund_currency(items, transactions)
    refunds = [
        RefundTransaction(
            gateway=blank_to_none(t.get("gateway")),
            amount=_money(t.get("amount"), currency, "transactions.amount"),
            status=t.get("status") or "success",
            processed_at=timestamp_or_none(
                t.get("processed_at"), field="transactions.processed_at"
            ),
        )
        for t in transactions
        if t.get("kind") == "refund"
    ]
    return Refund(
        subtotal=_sum_money(
            [_money(i.get("subtotal"), currency, "subtotal") for i in items], currency
        ),
        tax=_sum_money(
            [_money(i.get("total_tax"), currency, "total_tax") for i in items], currency
        ),
        total=_sum_money([t.amount for t in refunds if t.status == "success"], currency),
        transactions=refunds,
        restock=any(i.get("restock_type") in ("return", "cancel", "legacy_restock") for i in items),
        note=blank_to_none(payload.get("note")),
        refunded_at=timestamp_or_none(
            payload.get("processed_at") or payload.get("created_at"), field="processed_at"
        ),
    )


def return_lines_from_shopify_refund(payload: Payload) -> list[ReturnLine]:
    """Return the lines of a ``refunds/create`` body whose units come back (restock type return)."""
    return [
        ReturnLine(
            line_id=str(item["line_item_id"]),
            sku=blank_to_none((item.get("line_item") or {}).get("sku")),
            quantity=quantity(item.get("quantity"), field="refund_line_items.quantity"),
            disposition="restock" if item.get("restock_type") == "return" else "pending",
        )
        for item in payload.get("refund_line_items") or []
        if item.get("restock_type") in ("return", "legacy_restock")
    ]


# --- the order as it stands ----------------------------------------------------------------------


def _current_lines(
    payload: Payload, items: Sequence[Payload], lines: list[OrderLine], currency: str
) -> list[OrderLine] | None:
    """The lines at their current quantities, or None to map the order as placed."""
    if payload.get("current_total_price") in (None, ""):
        return None
    if any(item.get("current_quantity") is None for item in items):
        return None
    if not _changed(payload, items):
        return None
    removed = _removed_by_refunds(payload, currency)
    result = []
    for item, line in zip(items, lines, strict=True):
        where = f"line_items[{item.get('id')}]"
        now = quantity(item.get("current_quantity"), field=f"{where}.current_quantity")
        if not 0 <= now <= line.quantity:
            raise MappingError(f"{where}.current_quantity: {now} is not between 0 and quantity")
        if now == line.quantity:
            result.append(line)
        elif now > 0:
            result.append(_reduced(line, now, removed.get(str(item.get("id")))))
    return result or None


def _changed(payload: Payload, items: Sequence[Payload]) -> bool:
    """Whether an edit or a refund shows: refund records, a line's current quantity, or a
    current subtotal that is not the one placed (an edit that only added lines)."""
    if payload.get("refunds"):
        return True
    if any(item.get("current_quantity") != item.get("quantity") for item in items):
        return True
    current = payload.get("current_subtotal_price")
    placed = payload.get("subtotal_price")
    if current in (None, "") or placed in (None, ""):
        return False
    return decimal(current, field="current_subtotal_price") != decimal(
        placed, field="subtotal_price"
    )


def _removed_by_refunds(payload: Payload, currency: str) -> dict[str, tuple[int, Money, Money]]:
    # Per line id: units, subtotal and tax that refunds (and order-edit removals) took off.
    removed: dict[str, tuple[int, Money, Money]] = {}
    for refund in payload.get("refunds") or []:
        for item in refund.get("refund_line_items") or []:
            key = str(item.get("line_item_id"))
            units, subtotal, tax = removed.get(key, (0, Money.zero(currency), Money.zero(currency)))
            removed[key] = (
                units + quantity(item.get("quantity"), field="refund_line_items.quantity"),
                subtotal + _money(_set_amount(item, "subtotal"), currency, "subtotal"),
                tax + _money(_set_amount(item, "total_tax"), currency, "total_tax"),
            )
    return removed


def _set_amount(item: Payload, key: str) -> Any:
    # The decimal-string shop amount of the *_set twin, else the bare (JSON number) field.
    money_set = item.get(f"{key}_set")
    if isinstance(money_set, Mapping):
        amount = (money_set.get("shop_money") or {}).get("amount")
        if amount is not None:
            return amount
    return item.get(key)


def _reduced(line: OrderLine, now: int, removed: tuple[int, Money, Money] | None) -> OrderLine:
    """`line` at `now` units: its net and tax less what left it, the rest of its discount kept."""
    currency = line.unit_price.currency
    zero = Money.zero(currency)
    units, subtotal, tax = removed or (0, zero, zero)
    missing = line.quantity - now - units
    if missing:  # units no refund record accounts for: take them off pro rata
        share = Decimal(missing) / Decimal(line.quantity)
        subtotal = subtotal + (line.net * share).quantize()
        tax = tax + (line.tax_total * share).quantize()
    net = line.net - subtotal
    discount = line.unit_price * now - net
    first = line.discount_allocations[0] if line.discount_allocations else None
    allocations = (
        []
        if discount.is_zero()
        else [
            DiscountAllocation(
                amount=discount,
                code=first.code if first else None,
                title=first.title if first else "adjustment after edit or refund",
            )
        ]
    )
    return line.model_copy(
        update={
            "quantity": now,
            "discount_allocations": allocations,
            "tax_lines": _less_tax(line.tax_lines, tax),
        }
    )


def _less_tax(tax_lines: Sequence[TaxLine], removed: Money) -> list[TaxLine]:
    """The tax lines less `removed`, spread by their amounts (the remainder on the last)."""
    if not tax_lines or removed.is_zero():
        return list(tax_lines)
    whole = _sum_money([t.amount for t in tax_lines], removed.currency)
    result, left = [], removed
    for index, tax_line in enumerate(tax_lines):
        last = index == len(tax_lines) - 1
        part = (
            left
            if last or whole.is_zero()
            else (removed * (tax_line.amount.amount / whole.amount)).quantize()
        )
        left = left - part
        result.append(tax_line.model_copy(update={"amount": tax_line.amount - part}))
    return result


def _after_shipping_refunds(
    payload: Payload, shipping: list[ShippingLine], currency: str
) -> list[ShippingLine]:
    refunded = Money.zero(currency)
    for refund in payload.get("refunds") or []:
        for adjustment in refund.get("order_adjustments") or []:
            if adjustment.get("kind") == "shipping_refund":
                refunded = refunded - _money(
                    adjustment.get("amount"), currency, "order_adjustments"
                )
    if refunded.is_zero() or not shipping:
        return shipping
    first = shipping[0]
    allocation = DiscountAllocation(amount=refunded, title="shipping refund")
    updated = first.model_copy(
        update={"discount_allocations": [*first.discount_allocations, allocation]}
    )
    return [updated, *shipping[1:]]


# --- parts ---------------------------------------------------------------------------------------


def _line(item: Payload, currency: str, applications: Sequence[Payload]) -> OrderLine:
    line_id = item.get("id")
    where = f"line_items[{line_id}]"
    return OrderLine(
        line_id=str(line_id),
        sku=blank_to_none(item.get("sku")),
        title=blank_to_none(item.get("title")) or blank_to_none(item.get("name")) or "(untitled)",
        variant_title=blank_to_none(item.get("variant_title")),
        quantity=quantity(item.get("quantity"), field=f"{where}.quantity"),
        unit_price=_money(item.get("price"), currency, f"{where}.price"),
        discount_allocations=_allocations(item.get("discount_allocations"), currency, applications),
        tax_lines=_taxes(item.get("tax_lines"), currency, where),
        taxable=bool(item.get("taxable", True)),
        requires_shipping=bool(item.get("requires_shipping", True)),
        gift_card=bool(item.get("gift_card", False)),
    )


def _shipping(item: Payload, currency: str, applications: Sequence[Payload]) -> ShippingLine:
    where = f"shipping_lines[{item.get('id')}]"
    price = _money(item.get("price"), currency, f"{where}.price")
    allocations = _allocations(item.get("discount_allocations"), currency, applications)
    discounted = item.get("discounted_price")
    if not allocations and discounted is not None:
        # Older payloads carry only discounted_price: the difference is the shipping discount.
        difference = price - _money(discounted, currency, f"{where}.discounted_price")
        if not difference.is_zero():
            allocations = [DiscountAllocation(amount=difference, title="shipping discount")]
    return ShippingLine(
        title=blank_to_none(item.get("title")) or blank_to_none(item.get("code")) or "Shipping",
        code=blank_to_none(item.get("code")),
        carrier=blank_to_none(item.get("source")),
        price=price,
        discount_allocations=allocations,
        tax_lines=_taxes(item.get("tax_lines"), currency, where),
    )


def _allocations(
    raw: Any, currency: str, applications: Sequence[Payload]
) -> list[DiscountAllocation]:
    result = []
    for allocation in raw or []:
        index = allocation.get("discount_application_index")
        application: Payload = {}
        if isinstance(index, int) and 0 <= index < len(applications):
            application = applications[index]
        result.append(
            DiscountAllocation(
                amount=_money(allocation.get("amount"), currency, "discount_allocations.amount"),
                code=blank_to_none(application.get("code")),
                title=blank_to_none(application.get("title")),
            )
        )
    return result


def _taxes(raw: Any, currency: str, where: str) -> list[TaxLine]:
    return [
        TaxLine(
            title=blank_to_none(t.get("title")) or "Tax",
            rate=decimal(t["rate"], field=f"{where}.tax_lines.rate")
            if t.get("rate") is not None
            else None,
            amount=_money(t.get("price"), currency, f"{where}.tax_lines.price"),
        )
        for t in raw or []
    ]


def _discount_code(raw: Payload, currency: str) -> DiscountCode:
    kind = raw.get("type")
    return DiscountCode(
        code=str(raw.get("code")),
        amount=_money(raw.get("amount"), currency, "discount_codes.amount"),
        kind=kind if kind in ("percentage", "fixed_amount", "shipping") else "fixed_amount",
    )


def _payment(gateway: str) -> Payment:
    return Payment(method=_GATEWAY_METHODS.get(gateway, "other"), gateway=gateway)  # type: ignore[arg-type]


def _customer(payload: Payload) -> CustomerRef | None:
    raw = payload.get("customer")
    if not raw:
        return None
    name = " ".join(p for p in (raw.get("first_name"), raw.get("last_name")) if p) or None
    return CustomerRef(kind="consumer", email=blank_to_none(raw.get("email")), name=name)


def _address(raw: Any) -> Address | None:
    if not raw:
        return None
    code = blank_to_none(raw.get("country_code"))
    return Address(
        name=blank_to_none(raw.get("name")),
        first_name=blank_to_none(raw.get("first_name")),
        last_name=blank_to_none(raw.get("last_name")),
        company=blank_to_none(raw.get("company")),
        line1=blank_to_none(raw.get("address1")),
        line2=blank_to_none(raw.get("address2")),
        city=blank_to_none(raw.get("city")),
        region=blank_to_none(raw.get("province")),
        region_code=blank_to_none(raw.get("province_code")),
        postal_code=blank_to_none(raw.get("zip")),
        country=blank_to_none(raw.get("country")),
        country_code=code.upper() if code else None,
        phone=blank_to_none(raw.get("phone")),
        latitude=_coordinate(raw.get("latitude"), "latitude"),
        longitude=_coordinate(raw.get("longitude"), "longitude"),
    )


def _coordinate(value: Any, field: str) -> Any:
    return None if value is None or value == "" else decimal(value, field=field)


def _known(value: Any, vocabulary: Sequence[str]) -> str | None:
    # A status Shopify adds later is dropped rather than failing the whole order.
    return value if value in vocabulary else None


def _status(payload: Payload) -> str:
    if payload.get("cancelled_at"):
        return "cancelled"
    return "closed" if payload.get("closed_at") else "open"


def _cancellation(payload: Payload) -> Cancellation | None:
    cancelled_at = payload.get("cancelled_at")
    if not cancelled_at:
        return None
    reason = str(payload.get("cancel_reason") or "other").lower()
    return Cancellation(
        reason=reason
        if reason in ("customer", "declined", "fraud", "inventory", "staff")
        else "other",  # type: ignore[arg-type]
        cancelled_at=timestamp(cancelled_at, field="cancelled_at"),
    )


def _refund_currency(items: Sequence[Payload], transactions: Sequence[Payload]) -> str:
    for item in items:
        for key in ("subtotal_set", "total_tax_set"):
            code = ((item.get(key) or {}).get("shop_money") or {}).get("currency_code")
            if code:
                return str(code)
    for transaction in transactions:
        if transaction.get("currency"):
            return str(transaction["currency"])
    raise MappingError("refund: no currency in subtotal_set, total_tax_set or transactions")


def _money(value: Any, currency: str, field: str) -> Money:
    return Money(decimal(value, field=field), currency)


def _sum_money(amounts: Sequence[Money], currency: str) -> Money:
    return sum(amounts, Money.zero(currency))


def _required(payload: Payload, key: str) -> Any:
    value = payload.get(key)
    if value is None or value == "":
        raise MappingError(f"shopify order: missing {key!r}")
    return value
