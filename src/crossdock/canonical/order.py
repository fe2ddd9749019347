"""The canonical order (``order.v1``): lines, shipping, discounts, taxes, payments and totals.

An `Order` validates itself on construction: every amount is in the order's currency, line ids are
unique, the status agrees with the cancellation, and the stated totals equal the ones recomputed
from the parts (`crossdock.canonical.totals`). A totals mismatch surfaces inside pydantic's
`ValidationError`; `parse_order` raises the `OrderTotalsMismatch` itself so that callers can
quarantine the document.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import Field, ValidationError, field_validator, model_validator

from crossdock.canonical.address import Address
from crossdock.canonical.base import (
    CanonicalModel,
    HubId,
    NonEmptyStr,
    Timestamp,
    check_single_currency,
)
from crossdock.canonical.charges import DiscountAllocation, DiscountCode, TaxLine
from crossdock.canonical.money import Money, currency_exponent
from crossdock.canonical.refs import CustomerRef
from crossdock.canonical.totals import ComputedTotals, OrderTotalsMismatch, compute_totals

__all__ = [
    "CANCEL_REASONS",
    "FINANCIAL_STATUSES",
    "FULFILLMENT_STATUSES",
    "ORDER_STATUSES",
    "PAYMENT_METHODS",
    "Cancellation",
    "Order",
    "OrderLine",
    "OrderTotals",
    "OrderTotalsMismatch",
    "Payment",
    "ShippingLine",
    "parse_order",
    "totals_mismatch",
]

OrderStatus = Literal["draft", "open", "closed", "cancelled"]
FinancialStatus = Literal[
    "pending",
    "authorized",
    "partially_paid",
    "paid",
    "partially_refunded",
    "refunded",
    "voided",
]
FulfillmentStatus = Literal["unfulfilled", "partial", "fulfilled", "restocked"]
CancelReason = Literal["customer", "declined", "fraud", "inventory", "staff", "other"]
PaymentMethod = Literal["card", "gift_card", "bank_transfer", "invoice", "cash", "wallet", "other"]

ORDER_STATUSES: tuple[str, ...] = get_args(OrderStatus)
FINANCIAL_STATUSES: tuple[str, ...] = get_args(FinancialStatus)
FULFILLMENT_STATUSES: tuple[str, ...] = get_args(FulfillmentStatus)
CANCEL_REASONS: tuple[str, ...] = get_args(CancelReason)
PAYMENT_METHODS: tuple[str, ...] = get_args(PaymentMethod)

Quantity = Annotated[int, Field(ge=1)]


class OrderLine(CanonicalModel):
    """One line of an order.

    Attributes:
        line_id: identifies the line within the order (the source's line id or position, as
            text); fulfilments, returns and refunds point at lines with it.
        sku: the SKU; None for custom lines that have none (Shopify sends ``""`` or null).
        quantity: units ordered, a positive integer.
        unit_price: price of one unit before discounts (tax included when the order says so).
        discount_allocations: discounts taken off this line.
        tax_lines: taxes charged on this line.
        gift_card: the line sells a gift card (untaxed, not shipped).
    """

    line_id: NonEmptyStr
    sku: NonEmptyStr | None = None
    title: NonEmptyStr
    variant_title: str | None = None
    quantity: Quantity
    unit_price: Money
    discount_allocations: list[DiscountAllocation] = Field(default_factory=list)
    tax_lines: list[TaxLine] = Field(default_factory=list)
    taxable: bool = True
    requires_shipping: bool = True
    gift_card: bool = False

    @property
    def gross(self) -> Money:
        """``unit_price × quantity``, unrounded."""
        return self.unit_price * self.quantity

    @property
    def discount_total(self) -> Money:
        """Σ discount allocations of this line."""
        return sum(
            (d.amount for d in self.discount_allocations), Money.zero(self.unit_price.currency)
        )

    @property
    def tax_total(self) -> Money:
        """Σ tax lines of this line."""
        return sum((t.amount for t in self.tax_lines), Money.zero(self.unit_price.currency))

    @property
    def net(self) -> Money:
        """``gross − discounts``, rounded to the minor unit (banker's rounding)."""
        return (self.gross - self.discount_total).quantize()


class ShippingLine(CanonicalModel):
    """A shipping charge, with its own discounts and taxes.

    Attributes:
        price: the shipping price before shipping discounts.
        discount_allocations: shipping discounts (e.g. a free-shipping code).
    """

    title: NonEmptyStr
    code: str | None = None
    carrier: str | None = None
    price: Money
    discount_allocations: list[DiscountAllocation] = Field(default_factory=list)
    tax_lines: list[TaxLine] = Field(default_factory=list)

    @property
    def gross(self) -> Money:
        """The shipping price before discounts."""
        return self.price

    @property
    def net(self) -> Money:
        """Price less shipping discounts."""
        discounts = sum(
            (d.amount for d in self.discount_allocations), Money.zero(self.price.currency)
        )
        return (self.price - discounts).quantize()


class Payment(CanonicalModel):
    """One tender used to pay the order; several make a split tender (gift card + card).

    Attributes:
        method: the kind of tender.
        gateway: the source's gateway name ("shopify_payments", "gift_card").
        amount: the amount paid with this tender, when the source says.
        reference: a non-secret reference (e.g. the last characters of a gift card).
    """

    method: PaymentMethod
    gateway: str | None = None
    amount: Money | None = None
    reference: str | None = None


class Cancellation(CanonicalModel):
    """Why and when an order was cancelled."""

    reason: CancelReason
    cancelled_at: Timestamp
    note: str | None = None


class OrderTotals(CanonicalModel):
    """The totals the source system stated. Only `total` is mandatory.

    `total` (and `tax` when given) are checked against the parts; `subtotal`, `discounts` and
    `shipping` are carried as the source stated them (sources disagree on what a subtotal is).
    """

    subtotal: Money | None = None
    discounts: Money | None = None
    shipping: Money | None = None
    tax: Money | None = None
    total: Money


class Order(CanonicalModel):
    """A customer order (``order.v1``).

    Attributes:
        id: hub id; None until the order is linked.
        number: the number people use ("#1042", "00000107", "SO-1001").
        channel: where it was placed, ``"<system>:<channel>"``, e.g. ``"shopify:web"``.
        currency: ISO 4217 code; every amount of the order is in it.
        taxes_included: prices already contain tax (tax is then not added to the total).
        order_tax_lines: taxes on the order as a whole, not allocated to lines or shipping.
        order_discounts: discounts on the order as a whole, not allocated to lines.
        status: draft, open, closed or cancelled; `cancellation` is set exactly when cancelled.
    """

    schema_version: Literal["order.v1"] = "order.v1"
    id: HubId | None = None
    number: NonEmptyStr
    channel: NonEmptyStr
    customer: CustomerRef | None = None
    email: str | None = None
    phone: str | None = None
    purchase_order: str | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    currency: NonEmptyStr
    taxes_included: bool = False
    lines: list[OrderLine] = Field(min_length=1)
    shipping_lines: list[ShippingLine] = Field(default_factory=list)
    order_tax_lines: list[TaxLine] = Field(default_factory=list)
    order_discounts: list[DiscountAllocation] = Field(default_factory=list)
    discount_codes: list[DiscountCode] = Field(default_factory=list)
    payments: list[Payment] = Field(default_factory=list)
    totals: OrderTotals
    status: OrderStatus
    financial_status: FinancialStatus | None = None
    fulfillment_status: FulfillmentStatus | None = None
    cancellation: Cancellation | None = None
    placed_at: Timestamp
    updated_at: Timestamp | None = None
    note: str | None = None
    tags: list[str] = Field(default_factory=list)

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        currency_exponent(value)  # raises for an unknown code
        return value

    @property
    def ref(self) -> str:
        """How messages name this order: its number, else its id."""
        return self.number or self.id or "?"

    def computed_totals(self, rounding: str = ROUND_HALF_EVEN) -> ComputedTotals:
        """Recompute the totals from lines, shipping, discounts and taxes."""
        return compute_totals(
            currency=self.currency,
            lines=self.lines,
            shipping_lines=self.shipping_lines,
            document_tax_lines=self.order_tax_lines,
            document_discounts=self.order_discounts,
            taxes_included=self.taxes_included,
            rounding=rounding,
        )

    def check_totals(self, rounding: str = ROUND_HALF_EVEN) -> None:
        """Compare the stated totals with the recomputed ones.

        Raises:
            OrderTotalsMismatch: the total (or the stated tax) differs at the minor unit.
        """
        computed = self.computed_totals(rounding)
        stated_tax = self.totals.tax
        if stated_tax is not None and stated_tax.quantize(rounding) != computed.tax:
            raise OrderTotalsMismatch(self.ref, "total tax", stated_tax, computed.tax)
        if self.totals.total.quantize(rounding) != computed.total:
            raise OrderTotalsMismatch(self.ref, "total", self.totals.total, computed.total)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_single_currency(self, self.currency)
        line_ids = [line.line_id for line in self.lines]
        if len(set(line_ids)) != len(line_ids):
            raise ValueError(f"order {self.ref}: line ids are not unique: {line_ids}")
        if (self.status == "cancelled") != (self.cancellation is not None):
            raise ValueError(
                f"order {self.ref}: status {self.status!r} disagrees with the cancellation "
                "(a cancelled order needs one, any other status must have none)"
            )
        self.check_totals()
        return self


def totals_mismatch(error: ValidationError) -> OrderTotalsMismatch | None:
    """Return the `OrderTotalsMismatch` inside a pydantic `ValidationError`, if there is one."""
    for detail in error.errors():
        cause = detail.get("ctx", {}).get("error")
        if isinstance(cause, OrderTotalsMismatch):
            return cause
    return None


def parse_order(data: Mapping[str, Any] | Order) -> Order:
    """Validate `data` as an `Order`, raising a totals mismatch as itself.

    Raises:
        OrderTotalsMismatch: the order is well formed but its totals do not add up.
        pydantic.ValidationError: any other problem.
    """
    if isinstance(data, Order):
        return data
    try:
        return Order.model_validate(data)
    except ValidationError as exc:
        mismatch = totals_mismatch(exc)
        if mismatch is not None:
            raise mismatch from exc
        raise
