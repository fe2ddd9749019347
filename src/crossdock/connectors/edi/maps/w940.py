"""940 Warehouse Shipping Order, outbound: a release instruction to the 3PL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from crossdock.connectors.edi.maps._common import Address, format_decimal, write_party_loop
from crossdock.connectors.edi.translit import to_x12_upper
from crossdock.connectors.edi.x12.builder import SetBody
from crossdock.connectors.edi.x12.envelope import Segment

FUNCTIONAL_ID = "OW"
SET_ID = "940"


@dataclass(frozen=True)
class Carrier:
    """Carrier instructions (W66).

    Attributes:
        scac: Standard Carrier Alpha Code (W6610; also W6605 routing when no routing given).
        payment: W6601 shipment method of payment (``PP`` prepaid, ``CC`` collect, ...).
        transport_method: W6602 (``M`` motor, ``U`` parcel, ``A`` air, ...).
        routing: W6605 routing text (service level), e.g. ``UPS GROUND``.
    """

    scac: str
    payment: str = "PP"
    transport_method: str = "M"
    routing: str = ""


@dataclass(frozen=True)
class OrderLine:
    """One detail line (LX + W01 + G69 + N9*LI).

    Attributes:
        line_number: Our line reference, echoed by the 3PL (N9*LI and LX01).
        sku: Written as ``VN`` (vendor item number) in W0104/W0105.
        quantity: W0101.
        uom: W0102 (``EA`` each, ``CA`` case, ...).
        upc: W0103 (12 digits), optional.
        description: G6901, transliterated to upper ASCII.
        buyer_item: Optional second id written as ``BP`` in W0106/W0107.
        weight: Optional line weight, summed into W7602.
    """

    line_number: str
    sku: str
    quantity: Decimal
    uom: str = "EA"
    upc: str = ""
    description: str = ""
    buyer_item: str = ""
    weight: Decimal | None = None


@dataclass(frozen=True)
class WarehouseShippingOrder:
    """A release instruction (the 940's content), built from a canonical order by a flow.

    Attributes:
        depositor_order_number: W0502, our order number; the 945 echoes it in W0602.
        ship_to: ST party.
        lines: Detail lines (at least one).
        purpose: W0501: ``N`` new, ``R`` replace, ``F`` cancel.
        po_number: W0503 customer purchase order.
        bill_to: BT party.
        depositor: DE party (us).
        warehouse: WH party (the 3PL location).
        references: Extra N9 (qualifier, value) pairs at header level.
        requested_ship_date: G62*10.
        deliver_by: G62*02.
        carrier: W66.
        notes: NTE*WHI lines.
        weight_uom: W7603 (``LB`` or ``KG``).
    """

    depositor_order_number: str
    ship_to: Address
    lines: tuple[OrderLine, ...]
    purpose: Literal["N", "R", "F"] = "N"
    po_number: str = ""
    bill_to: Address | None = None
    depositor: Address | None = None
    warehouse: Address | None = None
    references: tuple[tuple[str, str], ...] = ()
    requested_ship_date: date | None = None
    deliver_by: date | None = None
    carrier: Carrier | None = None
    notes: tuple[str, ...] = field(default=())
    weight_uom: str = "LB"


def map_940(order: WarehouseShippingOrder) -> SetBody:
    """The 940 body for one release instruction (segment order as the 4010 940 wants it).

    Raises:
        ValueError: The order has no lines.
    """
    if not order.lines:
        raise ValueError(f"order {order.depositor_order_number} has no lines to release")
    body = [Segment.of("W05", order.purpose, order.depositor_order_number, order.po_number)]
    for code, party in (
        ("ST", order.ship_to),
        ("BT", order.bill_to),
        ("DE", order.depositor),
        ("WH", order.warehouse),
    ):
        if party is not None:
            body.extend(write_party_loop(code, party))
    body.extend(Segment.of("N9", q, v) for q, v in order.references)
    for qualifier, when in (("10", order.requested_ship_date), ("02", order.deliver_by)):
        if when is not None:
            body.append(Segment.of("G62", qualifier, when.strftime("%Y%m%d")))
    body.extend(Segment.of("NTE", "WHI", to_x12_upper(n)[:80]) for n in order.notes)
    if order.carrier is not None:
        body.append(_w66(order.carrier))
    for index, line in enumerate(order.lines, start=1):
        body.extend(_detail(index, line))
    body.append(_w76(order))
    return SetBody(SET_ID, body)


def _w66(c: Carrier) -> Segment:
    routing = to_x12_upper(c.routing or c.scac)[:35]
    return Segment.of("W66", c.payment, c.transport_method, "", "", routing, "", "", "", "", c.scac)


def _detail(index: int, line: OrderLine) -> list[Segment]:
    w01 = Segment.of(
        "W01",
        format_decimal(line.quantity),
        line.uom,
        line.upc,
        "VN",
        line.sku,
        "BP" if line.buyer_item else "",
        line.buyer_item,
    )
    out = [Segment.of("LX", str(index)), w01]
    if line.description:
        out.append(Segment.of("G69", to_x12_upper(line.description)[:45]))
    out.append(Segment.of("N9", "LI", line.line_number))
    return out


def _w76(order: WarehouseShippingOrder) -> Segment:
    quantity = sum((line.quantity for line in order.lines), Decimal(0))
    weights = [line.weight for line in order.lines if line.weight is not None]
    weight = format_decimal(sum(weights, Decimal(0))) if weights else ""
    return Segment.of("W76", format_decimal(quantity), weight, order.weight_uom if weights else "")
