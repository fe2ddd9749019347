"""945 Warehouse Shipping Advice, inbound: what the 3PL shipped against a 940."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, time
from decimal import Decimal

from crossdock.connectors.edi.maps._common import (
    SKU_QUALIFIERS,
    UPC_QUALIFIERS,
    Address,
    Mapped,
    parse_date,
    parse_decimal,
    parse_time,
    pick,
    product_ids,
    read_party_loops,
)
from crossdock.connectors.edi.x12 import findings as f
from crossdock.connectors.edi.x12.envelope import Segment, TransactionSet
from crossdock.connectors.edi.x12.findings import Finding, Level
from crossdock.connectors.edi.x12.validate import (
    El,
    SegmentRule,
    SetSchema,
    code,
    req,
    validate_set,
)

FUNCTIONAL_ID = "SW"
SET_ID = "945"
COMPLETE_STATUSES = frozenset({"CC"})
"""W1201 codes meaning the line shipped complete; others (PR, CP, DS, ...) vary by 3PL guide."""

SCHEMA_945 = SetSchema(
    SET_ID,
    {
        "W06": SegmentRule((req(1, "ID", 1, 2), req(2, "AN", 1, 30), El(3, "DT"))),
        "N1": SegmentRule((req(1, "ID", 2, 3),)),
        "N2": SegmentRule(),
        "N3": SegmentRule((req(1),)),
        "N4": SegmentRule(),
        "PER": SegmentRule(),
        "N9": SegmentRule((req(1, "ID", 2, 3), req(2, "AN", 1, 50))),
        "G62": SegmentRule((req(1, "ID", 2, 2), req(2, "DT"), El(4, "TM"))),
        "NTE": SegmentRule(),
        "W27": SegmentRule((req(1, "ID", 1, 2), El(2, "ID", 2, 4))),
        "W10": SegmentRule(),
        "G72": SegmentRule(),
        "LX": SegmentRule((req(1, "N", 1, 6),)),
        "MAN": SegmentRule((req(1, "ID", 1, 2), req(2))),
        "W12": SegmentRule((req(1, "ID", 2, 2), El(2, "R"), El(3, "R"), El(4, "R")), 22),
        "G69": SegmentRule(),
        "W03": SegmentRule(
            (req(1, "R"), El(2, "R"), code(3, "LB", "KG", "OZ", "G", required=False))
        ),
        "W79": SegmentRule(),
        "QTY": SegmentRule(),
        "AMT": SegmentRule(),
    },
    required=("W06", "W12", "W03"),
)


@dataclass(frozen=True)
class W12Layout:
    """Where a partner puts W12's values (defaults are the 004010 standard positions).

    The FLAG in the wire contract: positions vary by 3PL guide. Qualifier/id pairs are read
    from ``ids_from`` on, in either order (``VN*SKU`` or ``SKU*VN``).
    """

    status: int = 1
    ordered: int = 2
    shipped: int = 3
    difference: int = 4
    uom: int = 5
    upc: int = 6
    ids_from: int = 7


@dataclass(frozen=True)
class ShippedLine:
    """One LX/W12 line of a 945.

    Attributes:
        line_number: N9*LI inside the line (our 940 line) or LX01 when absent.
        status: W1201 as sent (``CC`` complete; ``PR``/``CP``/... partial, per guide).
        sku: From the SK/VN/VP/BP/IN/... id.
        upc: W1206 or a UP/UK/EN id.
        ordered: Quantity ordered (derived from shipped + difference when absent).
        shipped: Units shipped (derived from ordered - difference when absent).
        uom: Unit of measure.
        product_ids: Every qualifier -> id pair found.
        marks: MAN (qualifier, value) pairs of the line (e.g. carton tracking).
    """

    line_number: str
    status: str
    sku: str
    upc: str
    ordered: Decimal
    shipped: Decimal
    uom: str
    product_ids: dict[str, str] = field(default_factory=dict, hash=False)
    marks: tuple[tuple[str, str], ...] = ()

    @property
    def difference(self) -> Decimal:
        """Ordered minus shipped (positive for a short pick)."""
        return self.ordered - self.shipped

    @property
    def short(self) -> bool:
        """True when fewer units shipped than were ordered (a short pick)."""
        return self.shipped < self.ordered


@dataclass(frozen=True)
class ShippingAdvice:
    """A read 945.

    Attributes:
        depositor_order_number: W0602, our 940's W0502.
        status: W0601 (``F`` final).
        ship_date: W0603.
        shipment_id: W0604 (shipment id / BOL).
        po_number: W0606.
        bill_of_lading: N9*BM (falls back to W0604).
        tracking_numbers: Every N9*2I (and line MAN*CP) value, in order, without duplicates.
        shipped_on: G62*11 date (falls back to W0603), with ``shipped_time`` from G6204.
        scac: W2702; ``transport_method`` W2701; ``routing`` W2703; ``payment`` W2704.
        parties: N1 loops by entity code.
        lines: The lines.
        total_quantity: W0301; ``total_weight`` W0302 with ``weight_uom`` W0303.
    """

    depositor_order_number: str
    status: str
    ship_date: date | None
    shipment_id: str
    po_number: str
    bill_of_lading: str
    tracking_numbers: tuple[str, ...]
    shipped_on: date | None
    shipped_time: time | None
    scac: str
    transport_method: str
    routing: str
    payment: str
    parties: dict[str, Address]
    lines: tuple[ShippedLine, ...]
    total_quantity: Decimal | None
    total_weight: Decimal | None
    weight_uom: str

    @property
    def short_lines(self) -> tuple[ShippedLine, ...]:
        """Lines shipped short."""
        return tuple(line for line in self.lines if line.short)


def read_945(
    ts: TransactionSet,
    *,
    layout: W12Layout | None = None,
    interchange: int | None = None,
    group: int | None = None,
) -> Mapped[ShippingAdvice]:
    """Map a received 945 to a ``ShippingAdvice``; findings carry AK3/AK4 detail.

    Args:
        ts: The 945 transaction set.
        layout: The partner's W12 positions (default: 004010 standard).
        interchange: ISA13, to stamp findings.
        group: GS06, to stamp findings.
    """
    findings = validate_set(ts, SCHEMA_945, interchange=interchange, group=group)
    if any(x.fatal for x in findings):
        return Mapped(None, tuple(findings))
    layout = layout or W12Layout()
    header = _header_segments(ts.segments)
    lines, line_findings = _lines(ts, layout)
    findings += f.stamp(
        line_findings,
        interchange=interchange,
        group=group,
        set_id=ts.set_id,
        set_control=ts.control_number,
    )
    if any(x.fatal for x in findings):
        return Mapped(None, tuple(findings))
    return Mapped(_advice(header, lines), tuple(findings))


def _header_segments(segments: tuple[Segment, ...]) -> list[Segment]:
    first_lx = next((i for i, s in enumerate(segments) if s.tag == "LX"), len(segments))
    return [*segments[:first_lx], *(s for s in segments[first_lx:] if s.tag == "W03")]


def _advice(header: list[Segment], lines: list[ShippedLine]) -> ShippingAdvice:
    w06 = _first(header, "W06")
    w27 = _first(header, "W27")
    w03 = _first(header, "W03")
    n9 = [(s.get(1), s.get(2)) for s in header if s.tag == "N9"]
    g62 = next((s for s in header if s.tag == "G62" and s.get(1) == "11"), None)
    tracking = [v for q, v in n9 if q == "2I"]
    tracking += [v for line in lines for q, v in line.marks if q == "CP"]
    bol = next((v for q, v in n9 if q == "BM"), "") or w06.get(4)
    return ShippingAdvice(
        depositor_order_number=w06.get(2),
        status=w06.get(1),
        ship_date=parse_date(w06.get(3)),
        shipment_id=w06.get(4),
        po_number=w06.get(6),
        bill_of_lading=bol,
        tracking_numbers=tuple(dict.fromkeys(tracking)),
        shipped_on=parse_date(g62.get(2)) if g62 else parse_date(w06.get(3)),
        shipped_time=parse_time(g62.get(4)) if g62 else None,
        scac=w27.get(2),
        transport_method=w27.get(1),
        routing=w27.get(3),
        payment=w27.get(4),
        parties=read_party_loops(header),
        lines=tuple(lines),
        total_quantity=parse_decimal(w03.get(1)),
        total_weight=parse_decimal(w03.get(2)),
        weight_uom=w03.get(3),
    )


def _first(segments: list[Segment], tag: str) -> Segment:
    return next((s for s in segments if s.tag == tag), Segment(tag))


def _lines(ts: TransactionSet, layout: W12Layout) -> tuple[list[ShippedLine], list[Finding]]:
    lines: list[ShippedLine] = []
    found: list[Finding] = []
    lx: Segment | None = None
    for position, segment in enumerate(ts.segments, start=2):
        if segment.tag == "LX":
            lx = segment
        elif segment.tag == "W12":
            line, problems = _w12(segment, position, lx, layout)
            found.extend(problems)
            if line is not None:
                lines.append(line)
        elif segment.tag == "N9" and segment.get(1) == "LI" and lines and lx is not None:
            lines[-1] = replace(lines[-1], line_number=segment.get(2))
        elif segment.tag == "MAN" and lines and lx is not None:
            marks = (*lines[-1].marks, (segment.get(1), segment.get(2)))
            lines[-1] = replace(lines[-1], marks=marks)
    return lines, found


def _w12(
    w12: Segment, position: int, lx: Segment | None, layout: W12Layout
) -> tuple[ShippedLine | None, list[Finding]]:
    ordered = parse_decimal(w12.get(layout.ordered))
    shipped = parse_decimal(w12.get(layout.shipped))
    difference = parse_decimal(w12.get(layout.difference))
    if shipped is None and ordered is not None and difference is not None:
        shipped = ordered - difference
    if ordered is None and shipped is not None:
        ordered = shipped + (difference or Decimal(0))
    if shipped is None or ordered is None:
        missing = layout.shipped if shipped is None else layout.ordered
        return None, [
            _w12_finding(
                position,
                missing,
                f.ELEMENT_MANDATORY_MISSING,
                "W12 needs the units shipped, or ordered and difference",
                fatal=True,
            )
        ]
    problems = []
    if difference is not None and ordered - shipped != difference:
        problems.append(
            _w12_finding(
                position,
                layout.difference,
                f.ELEMENT_INVALID_CODE,
                f"W12 difference {difference} is not ordered {ordered} minus shipped {shipped}",
                fatal=False,
                bad=w12.get(layout.difference),
            )
        )
    ids = product_ids(w12.get(i) for i in range(layout.ids_from, len(w12.elements) + 1))
    line = ShippedLine(
        line_number=lx.get(1) if lx is not None else "",
        status=w12.get(layout.status),
        sku=pick(ids, SKU_QUALIFIERS),
        upc=w12.get(layout.upc) or pick(ids, UPC_QUALIFIERS),
        ordered=ordered,
        shipped=shipped,
        uom=w12.get(layout.uom),
        product_ids=ids,
    )
    return line, problems


def _w12_finding(
    position: int, element: int, error: str, message: str, *, fatal: bool, bad: str = ""
) -> Finding:
    return Finding(
        Level.ELEMENT,
        error,
        message,
        segment_id="W12",
        segment_position=position,
        element_position=element,
        bad_value=bad or None,
        fatal=fatal,
    )
