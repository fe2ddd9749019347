"""Document totals: recompute them from lines, taxes and shipping, and compare with the stated ones.

The rule, to the currency's minor unit::

    total = Σ lines (unit price × quantity − discount allocations)
          − order-level discounts
          + Σ shipping lines (price − shipping discount allocations)
          + tax (line, shipping and order-level tax lines), unless prices already include tax

Each line's and shipping line's net amount is rounded to the minor unit before summing, as ERPs
do; the rounding mode is explicit (banker's rounding unless told otherwise). When
`taxes_included` is true (Shopify ``taxes_included``, Business Central ``pricesIncludeTax``) the
prices already contain the tax, so tax is reported but not added again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN
from typing import Protocol

from crossdock.canonical.charges import DiscountAllocation, TaxLine
from crossdock.canonical.money import Money

__all__ = ["Chargeable", "ComputedTotals", "OrderTotalsMismatch", "compute_totals"]


class Chargeable(Protocol):
    """A line or shipping line: a gross amount, its discount allocations and its tax lines."""

    @property
    def gross(self) -> Money:
        """Amount before discounts."""
        ...

    @property
    def discount_allocations(self) -> Sequence[DiscountAllocation]:
        """Discounts applied to this charge."""
        ...

    @property
    def tax_lines(self) -> Sequence[TaxLine]:
        """Taxes charged on this charge."""
        ...


class OrderTotalsMismatch(ValueError):  # noqa: N818 - the name callers were promised
    """A stated total that differs from the one recomputed from the document's parts.

    Callers catch it to quarantine the document rather than pass on wrong money.

    Attributes:
        order_ref: the order's number (or id) as shown to people, e.g. ``"#1042"``.
        field: which total disagrees: ``"total"`` or ``"total tax"``.
        stated: the amount the source system stated.
        computed: the amount recomputed from lines, taxes and shipping.
        difference: ``stated - computed``.
    """

    def __init__(self, order_ref: str, field: str, stated: Money, computed: Money) -> None:
        self.order_ref = order_ref
        self.field = field
        self.stated = stated
        self.computed = computed
        self.difference = stated - computed
        super().__init__(
            f"order {order_ref}: {field} {stated} differs from computed {computed} "
            f"by {self.difference.amount_text()}"
        )

    def __reduce__(self) -> tuple[type[OrderTotalsMismatch], tuple[str, str, Money, Money]]:
        return (type(self), (self.order_ref, self.field, self.stated, self.computed))


@dataclass(frozen=True, slots=True)
class ComputedTotals:
    """Totals recomputed from a document's parts, each rounded to the minor unit.

    Attributes:
        lines: Σ line net amounts (after line discounts).
        discounts: Σ discounts (line, shipping and order level).
        shipping: Σ shipping net amounts (after shipping discounts).
        tax: Σ all tax lines.
        total: what the customer pays.
    """

    lines: Money
    discounts: Money
    shipping: Money
    tax: Money
    total: Money


def _net(charge: Chargeable, rounding: str) -> Money:
    discounts = sum(
        (d.amount for d in charge.discount_allocations), Money.zero(charge.gross.currency)
    )
    return (charge.gross - discounts).quantize(rounding)


def _sum(amounts: Iterable[Money], currency: str) -> Money:
    return sum(amounts, Money.zero(currency))


def compute_totals(
    *,
    currency: str,
    lines: Sequence[Chargeable],
    shipping_lines: Sequence[Chargeable] = (),
    document_tax_lines: Sequence[TaxLine] = (),
    document_discounts: Sequence[DiscountAllocation] = (),
    taxes_included: bool = False,
    rounding: str = ROUND_HALF_EVEN,
) -> ComputedTotals:
    """Recompute a document's totals from its parts (see the module docstring for the rule).

    Raises:
        CurrencyMismatch: a part is in another currency.
    """
    lines_net = _sum((_net(line, rounding) for line in lines), currency)
    shipping_net = _sum((_net(line, rounding) for line in shipping_lines), currency)
    document_discount = _sum((d.amount for d in document_discounts), currency).quantize(rounding)
    taxes = [t.amount for c in (*lines, *shipping_lines) for t in c.tax_lines]
    taxes += [t.amount for t in document_tax_lines]
    tax = _sum(taxes, currency).quantize(rounding)
    discounts = _sum(
        (d.amount for c in (*lines, *shipping_lines) for d in c.discount_allocations), currency
    )
    total = lines_net - document_discount + shipping_net
    if not taxes_included:
        total = total + tax
    return ComputedTotals(
        lines=lines_net,
        discounts=(discounts + document_discount).quantize(rounding),
        shipping=shipping_net,
        tax=tax,
        total=total.quantize(rounding),
    )
