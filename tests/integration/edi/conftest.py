"""Shared pieces of the EDI 3PL integration tests: canonical orders and the partnership."""

from __future__ import annotations

from datetime import UTC, datetime

from crossdock.canonical.address import Address
from crossdock.canonical.money import Money
from crossdock.canonical.order import Order, OrderLine, OrderTotals
from crossdock.connectors.edi import EdiPartner
from crossdock.connectors.edi.x12 import Party

US = Party("ZZ", "CROSSDOCK")
THREE_PL = Party("ZZ", "ACME3PL")
PARTNER = EdiPartner(us=US, partner=THREE_PL, location="acme-reno", source="edi:acme")


def make_order(
    number: str, lines: list[tuple[str, str, int]], *, name: str = "Zoë Ørsted"
) -> Order:
    """A canonical order with a shipping address and ``(line_id, sku, quantity)`` lines."""
    first, _, last = name.partition(" ")
    eur = "EUR"
    total = Money(str(10 * sum(q for _, _, q in lines)) + ".00", eur)
    return Order.model_validate(
        {
            "number": number,
            "channel": "shopify:web",
            "currency": eur,
            "shipping_address": Address(
                first_name=first,
                last_name=last,
                line1="Große Straße 5",
                city="Köln",
                region_code="NW",
                postal_code="50667",
                country_code="DE",
            ),
            "lines": [
                OrderLine(
                    line_id=line_id,
                    sku=sku,
                    title=sku,
                    quantity=quantity,
                    unit_price=Money("10.00", eur),
                )
                for line_id, sku, quantity in lines
            ],
            "totals": OrderTotals(total=total),
            "status": "open",
            "placed_at": datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
        }
    )
