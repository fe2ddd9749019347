"""The canonical invoice (``invoice.v1``), as posted by the ERP."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN
from typing import Annotated, Literal, Self, get_args

from pydantic import Field, field_validator, model_validator

from crossdock.canonical.base import (
    CanonicalModel,
    HubId,
    NonEmptyStr,
    Timestamp,
    check_single_currency,
)
from crossdock.canonical.charges import DiscountAllocation, TaxLine
from crossdock.canonical.money import Money, currency_exponent
from crossdock.canonical.refs import CustomerRef, OrderRef
from crossdock.canonical.totals import ComputedTotals, OrderTotalsMismatch, compute_totals

__all__ = ["INVOICE_STATUSES", "Invoice", "InvoiceLine"]

InvoiceStatus = Literal["draft", "open", "partially_paid", "paid", "void"]
INVOICE_STATUSES: tuple[str, ...] = get_args(InvoiceStatus)


class InvoiceLine(CanonicalModel):
    """One invoiced line.

    Attributes:
        line_id: the order line it bills, when it bills one.
    """

    line_id: str | None = None
    sku: NonEmptyStr | None = None
    description: NonEmptyStr
    quantity: Annotated[int, Field(ge=1)]
    unit_price: Money
    discount_allocations: list[DiscountAllocation] = Field(default_factory=list)
    tax_lines: list[TaxLine] = Field(default_factory=list)

    @property
    def gross(self) -> Money:
        """``unit_price × quantity``, unrounded."""
        return self.unit_price * self.quantity


class Invoice(CanonicalModel):
    """An invoice (``invoice.v1``). Its total is checked like an order's (shipping is a line).

    Attributes:
        number: the ERP's invoice number.
        amount_due: what is still to be paid.
    """

    schema_version: Literal["invoice.v1"] = "invoice.v1"
    id: HubId | None = None
    number: NonEmptyStr
    order: OrderRef | None = None
    customer: CustomerRef | None = None
    currency: NonEmptyStr
    taxes_included: bool = False
    lines: list[InvoiceLine] = Field(min_length=1)
    invoice_tax_lines: list[TaxLine] = Field(default_factory=list)
    invoice_discounts: list[DiscountAllocation] = Field(default_factory=list)
    total_tax: Money | None = None
    total: Money
    amount_due: Money
    status: InvoiceStatus
    payment_terms: str | None = None
    issued_at: Timestamp
    due_at: Timestamp | None = None

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        currency_exponent(value)
        return value

    def computed_totals(self, rounding: str = ROUND_HALF_EVEN) -> ComputedTotals:
        """Recompute the totals from the lines, discounts and taxes."""
        return compute_totals(
            currency=self.currency,
            lines=self.lines,
            document_tax_lines=self.invoice_tax_lines,
            document_discounts=self.invoice_discounts,
            taxes_included=self.taxes_included,
            rounding=rounding,
        )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_single_currency(self, self.currency)
        computed = self.computed_totals()
        if self.total.quantize() != computed.total:
            raise OrderTotalsMismatch(f"invoice {self.number}", "total", self.total, computed.total)
        if self.amount_due.amount < 0 or self.amount_due > self.total:
            raise ValueError(f"invoice {self.number}: amount_due must be between 0 and the total")
        return self
