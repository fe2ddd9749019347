"""The 3PL's side of the documents: read 940s; write 945s and 846s."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from crossdock.connectors.edi.x12 import (
    Segment,
    SegmentRule,
    SetBody,
    SetSchema,
    TransactionSet,
)
from crossdock.connectors.edi.x12.validate import El, code, req

SCHEMA_940 = SetSchema(
    "940",
    {
        "W05": SegmentRule((code(1, "N", "R", "F"), req(2, "AN", 1, 22), El(3, "AN", 1, 30))),
        "N1": SegmentRule((req(1, "ID", 2, 3),)),
        "N2": SegmentRule(),
        "N3": SegmentRule((req(1),)),
        "N4": SegmentRule(),
        "PER": SegmentRule(),
        "N9": SegmentRule((req(1, "ID", 2, 3), req(2, "AN", 1, 50))),
        "G62": SegmentRule((req(1, "ID", 2, 2), req(2, "DT"))),
        "NTE": SegmentRule(),
        "W66": SegmentRule((req(1, "ID", 2, 2),)),
        "LX": SegmentRule((req(1, "N", 1, 6),)),
        "W01": SegmentRule((req(1, "R", 1, 15), req(2, "ID", 2, 2), El(4, "ID", 2, 2), El(5))),
        "G69": SegmentRule(),
        "W76": SegmentRule((req(1, "R"),)),
    },
    required=("W05", "N1", "W01", "W76"),
)
"""What this 3PL accepts in a 940; a fatal finding rejects the set (AK5*R)."""


@dataclass(frozen=True)
class ReleaseLine:
    """One W01 line of a 940."""

    line_ref: str
    sku: str
    quantity: int
    uom: str
    upc: str


@dataclass(frozen=True)
class Release:
    """What the 3PL keeps of a 940."""

    purpose: str
    order_number: str
    po_number: str
    ship_to_name: str
    scac: str
    routing: str
    lines: tuple[ReleaseLine, ...]


def read_release(ts: TransactionSet) -> Release:
    """A schema-checked 940 as a `Release` (W01 pairs read as VN/SK/BP ids, either order)."""
    w05 = ts.find("W05") or Segment("W05")
    w66 = ts.find("W66") or Segment("W66")
    ship_to = next((s for s in ts.segments if s.tag == "N1" and s.get(1) == "ST"), Segment("N1"))
    lines: list[ReleaseLine] = []
    lx = ""
    for segment in ts.segments:
        if segment.tag == "LX":
            lx = segment.get(1)
        elif segment.tag == "W01":
            lines.append(_line(segment, lx))
        elif segment.tag == "N9" and segment.get(1) == "LI" and lines:
            last = lines[-1]
            lines[-1] = ReleaseLine(segment.get(2), last.sku, last.quantity, last.uom, last.upc)
    return Release(
        w05.get(1), w05.get(2), w05.get(3), ship_to.get(2), w66.get(10), w66.get(5), tuple(lines)
    )


def _line(w01: Segment, lx: str) -> ReleaseLine:
    ids = {}
    for first, second in ((w01.get(4), w01.get(5)), (w01.get(6), w01.get(7))):
        if first and second:
            ids[first] = second
    sku = ids.get("VN") or ids.get("SK") or ids.get("BP") or ""
    try:
        quantity = int(Decimal(w01.get(1)))
    except (InvalidOperation, ValueError):
        quantity = 0
    return ReleaseLine(lx, sku, quantity, w01.get(2) or "EA", w01.get(3))


@dataclass(frozen=True)
class PickedLine:
    """A line as picked: what was ordered and what goes in the box."""

    line: ReleaseLine
    ordered: int
    shipped: int


def build_945(
    release: Release,
    picked: Sequence[PickedLine],
    *,
    final: bool,
    shipment_id: str,
    tracking: str,
    scac: str,
    routing: str,
    at: datetime,
) -> SetBody:
    """A 945 for one shipment of ``release`` (W06 ``F`` final, ``P`` partial)."""
    day = at.strftime("%Y%m%d")
    body = [
        Segment.of(
            "W06",
            "F" if final else "P",
            release.order_number,
            day,
            shipment_id,
            "",
            release.po_number,
        ),
        Segment.of("N1", "ST", release.ship_to_name),
        Segment.of("N9", "BM", shipment_id),
        Segment.of("N9", "2I", tracking),
        Segment.of("G62", "11", day, "", at.strftime("%H%M")),
        Segment.of("W27", "U", scac, routing, "PP"),
    ]
    for index, p in enumerate(picked, start=1):
        status = "CC" if p.shipped >= p.ordered else "PR"
        body.append(Segment.of("LX", str(index)))
        body.append(
            Segment.of(
                "W12",
                status,
                str(p.ordered),
                str(p.shipped),
                str(p.ordered - p.shipped),
                p.line.uom,
                p.line.upc,
                "VN",
                p.line.sku,
            )
        )
        body.append(Segment.of("N9", "LI", p.line.line_ref))
    body.append(Segment.of("W03", str(sum(p.shipped for p in picked))))
    return SetBody("945", body)


def build_846(
    stock: Sequence[tuple[str, int]], *, reference: str, warehouse: str, at: datetime
) -> SetBody:
    """An 846 advising ``stock`` (QTY*33 available and QTY*17 on hand, per SKU)."""
    body = [
        Segment.of("BIA", "00", "SI", reference, at.strftime("%Y%m%d"), at.strftime("%H%M")),
        Segment.of("N1", "WH", warehouse),
    ]
    for index, (sku, quantity) in enumerate(stock, start=1):
        body.append(Segment.of("LIN", str(index), "SK", sku))
        body.append(Segment.of("QTY", "33", str(quantity), "EA"))
        body.append(Segment.of("QTY", "17", str(quantity), "EA"))
    body.append(Segment.of("CTT", str(len(stock))))
    return SetBody("846", body)
