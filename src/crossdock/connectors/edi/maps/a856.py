"""856 Ship Notice/Manifest, inbound: the HL hierarchy flattened into shipped lines."""

from __future__ import annotations

from dataclasses import dataclass, field
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
from crossdock.connectors.edi.x12.validate import El, SegmentRule, SetSchema, req, validate_set

FUNCTIONAL_ID = "SH"
SET_ID = "856"

SCHEMA_856 = SetSchema(
    SET_ID,
    {
        "BSN": SegmentRule((req(1, "ID", 2, 2), req(2, "AN", 2, 30), req(3, "DT"), req(4, "TM"))),
        "HL": SegmentRule((req(1, "AN", 1, 12), El(2, "AN", 1, 12), req(3, "ID", 1, 2))),
        "TD1": SegmentRule((El(2, "N"), El(7, "R"))),
        "TD5": SegmentRule(),
        "TD3": SegmentRule(),
        "REF": SegmentRule((req(1, "ID", 2, 3),)),
        "DTM": SegmentRule((req(1, "ID", 3, 3), El(2, "DT"))),
        "FOB": SegmentRule(),
        "N1": SegmentRule((req(1, "ID", 2, 3),)),
        "N2": SegmentRule(),
        "N3": SegmentRule(),
        "N4": SegmentRule(),
        "PER": SegmentRule(),
        "PRF": SegmentRule((req(1, "AN", 1, 22),)),
        "PO4": SegmentRule(),
        "MAN": SegmentRule((req(1, "ID", 1, 2), req(2, "AN", 1, 48))),
        "LIN": SegmentRule((req(2, "ID", 2, 2), req(3, "AN", 1, 48))),
        "SN1": SegmentRule((req(2, "R"), req(3, "ID", 2, 2), El(5, "R"))),
        "PID": SegmentRule(),
        "CTT": SegmentRule((req(1, "N"),)),
    },
    required=("BSN", "HL"),
)


@dataclass(frozen=True)
class NoticeLine:
    """One item (HL level I) with the order and pack it sits under.

    Attributes:
        po_number: PRF01 of the enclosing order level.
        marks: MAN (qualifier, value) pairs of the enclosing pack (``CP`` tracking, ``GM`` SSCC).
        sku: From the LIN qualifier/id pairs (SK, VN, BP, ...).
        upc: From a UP/UK/EN pair.
        quantity: SN102 units shipped.
        uom: SN103.
        ordered: SN105, if sent.
        product_ids: Every LIN qualifier -> id pair.
    """

    po_number: str
    marks: tuple[tuple[str, str], ...]
    sku: str
    upc: str
    quantity: Decimal
    uom: str
    ordered: Decimal | None = None
    product_ids: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def tracking_number(self) -> str:
        """MAN*CP of the pack, or ""."""
        return next((v for q, v in self.marks if q == "CP"), "")


@dataclass(frozen=True)
class ShipNotice:
    """A read 856.

    Attributes:
        purpose: BSN01 (``00`` original).
        shipment_id: BSN02.
        notice_date: BSN03; ``notice_time`` BSN04.
        hierarchy: BSN05 (``0001`` S/O/P/I).
        shipped_on: DTM*011.
        bill_of_lading: REF*BM.
        scac: TD503; ``routing`` TD505; ``transport_method`` TD504.
        weight: TD107 with ``weight_uom`` TD108; ``packages`` TD102.
        parties: N1 loops of the shipment level.
        lines: Item levels, flattened.
    """

    purpose: str
    shipment_id: str
    notice_date: date | None
    notice_time: time | None
    hierarchy: str
    shipped_on: date | None
    bill_of_lading: str
    scac: str
    routing: str
    transport_method: str
    weight: Decimal | None
    weight_uom: str
    packages: int | None
    parties: dict[str, Address]
    lines: tuple[NoticeLine, ...]

    @property
    def tracking_numbers(self) -> tuple[str, ...]:
        """Every pack's MAN*CP, in order, without duplicates."""
        return tuple(
            dict.fromkeys(line.tracking_number for line in self.lines if line.tracking_number)
        )


@dataclass
class _Level:
    id: str
    parent: str
    code: str
    segments: list[Segment] = field(default_factory=list)
    position: int = 0


def read_856(
    ts: TransactionSet, *, interchange: int | None = None, group: int | None = None
) -> Mapped[ShipNotice]:
    """Map a received 856 to a ``ShipNotice``; broken hierarchies become findings."""
    findings = validate_set(ts, SCHEMA_856, interchange=interchange, group=group)
    if any(x.fatal for x in findings):
        return Mapped(None, tuple(findings))
    levels = _levels(ts.segments)
    lines, problems = _lines(levels)
    problems.extend(_check_count(ts, levels))
    findings += f.stamp(
        problems,
        interchange=interchange,
        group=group,
        set_id=ts.set_id,
        set_control=ts.control_number,
    )
    if any(x.fatal for x in findings):
        return Mapped(None, tuple(findings))
    shipment = next((lv for lv in levels.values() if lv.code == "S"), None)
    head = shipment.segments if shipment else []
    return Mapped(_notice(ts.find("BSN") or Segment("BSN"), head, lines), tuple(findings))


def _levels(segments: tuple[Segment, ...]) -> dict[str, _Level]:
    levels: dict[str, _Level] = {}
    current: _Level | None = None
    for position, segment in enumerate(segments, start=2):
        if segment.tag == "HL":
            current = _Level(segment.get(1), segment.get(2), segment.get(3), position=position)
            levels.setdefault(current.id, current)
        elif current is not None:
            current.segments.append(segment)
    return levels


def _lines(levels: dict[str, _Level]) -> tuple[list[NoticeLine], list[Finding]]:
    lines: list[NoticeLine] = []
    problems: list[Finding] = []
    for level in levels.values():
        if level.parent and level.parent not in levels:
            problems.append(_hl_finding(level, 2, f"HL02 parent {level.parent!r} is not an HL01"))
            continue
        if level.code != "I":
            continue
        sn1 = next((s for s in level.segments if s.tag == "SN1"), None)
        lin = next((s for s in level.segments if s.tag == "LIN"), Segment("LIN"))
        if sn1 is None or parse_decimal(sn1.get(2)) is None:
            problems.append(
                _hl_finding(
                    level,
                    3,
                    f"item level {level.id} has no SN1 quantity",
                    code=f.SEGMENT_MANDATORY_MISSING,
                    segment="SN1",
                )
            )
            continue
        ancestors = _ancestors(level, levels)
        ids = product_ids(lin.get(i) for i in range(2, len(lin.elements) + 1))
        lines.append(
            NoticeLine(
                po_number=_value(ancestors, "O", "PRF", 1),
                marks=tuple(
                    (s.get(1), s.get(2))
                    for a in ancestors
                    if a.code == "P"
                    for s in a.segments
                    if s.tag == "MAN"
                ),
                sku=pick(ids, SKU_QUALIFIERS),
                upc=pick(ids, UPC_QUALIFIERS),
                quantity=parse_decimal(sn1.get(2)) or Decimal(0),
                uom=sn1.get(3),
                ordered=parse_decimal(sn1.get(5)),
                product_ids=ids,
            )
        )
    return lines, problems


def _ancestors(level: _Level, levels: dict[str, _Level]) -> list[_Level]:
    out: list[_Level] = []
    seen = {level.id}
    parent = levels.get(level.parent)
    while parent is not None and parent.id not in seen:
        out.append(parent)
        seen.add(parent.id)
        parent = levels.get(parent.parent)
    return out


def _value(ancestors: list[_Level], code: str, tag: str, position: int) -> str:
    for level in ancestors:
        if level.code == code:
            found = next((s for s in level.segments if s.tag == tag), None)
            if found is not None:
                return found.get(position)
    return ""


def _check_count(ts: TransactionSet, levels: dict[str, _Level]) -> list[Finding]:
    ctt = ts.find("CTT")
    if ctt is None or not ctt.get(1).isdigit():
        return []
    hl_count = len(levels)
    lin_count = sum(1 for s in ts.segments if s.tag == "LIN")
    if int(ctt.get(1)) in (hl_count, lin_count):
        return []
    position = ts.segments.index(ctt) + 2
    message = f"CTT01 {ctt.get(1)} matches neither the HL count {hl_count} nor LIN {lin_count}"
    return [
        Finding(
            Level.ELEMENT,
            f.ELEMENT_INVALID_CODE,
            message,
            segment_id="CTT",
            segment_position=position,
            element_position=1,
            bad_value=ctt.get(1),
            fatal=False,
        )
    ]


def _hl_finding(
    level: _Level,
    element: int,
    message: str,
    *,
    code: str = f.ELEMENT_INVALID_CODE,
    segment: str = "HL",
) -> Finding:
    if segment != "HL":
        return Finding(
            Level.SEGMENT, code, message, segment_id=segment, segment_position=level.position
        )
    return Finding(
        Level.ELEMENT,
        code,
        message,
        segment_id="HL",
        segment_position=level.position,
        element_position=element,
        bad_value=level.parent or None,
    )


def _notice(bsn: Segment, head: list[Segment], lines: list[NoticeLine]) -> ShipNotice:
    td1 = next((s for s in head if s.tag == "TD1"), Segment("TD1"))
    td5 = next((s for s in head if s.tag == "TD5"), Segment("TD5"))
    refs = {s.get(1): s.get(2) for s in reversed(head) if s.tag == "REF"}
    dtm = next((s for s in head if s.tag == "DTM" and s.get(1) == "011"), Segment("DTM"))
    packages = td1.get(2)
    return ShipNotice(
        purpose=bsn.get(1),
        shipment_id=bsn.get(2),
        notice_date=parse_date(bsn.get(3)),
        notice_time=parse_time(bsn.get(4)),
        hierarchy=bsn.get(5),
        shipped_on=parse_date(dtm.get(2)),
        bill_of_lading=refs.get("BM", ""),
        scac=td5.get(3),
        routing=td5.get(5),
        transport_method=td5.get(4),
        weight=parse_decimal(td1.get(7)),
        weight_uom=td1.get(8),
        packages=int(packages) if packages.isdigit() else None,
        parties=read_party_loops(head),
        lines=tuple(lines),
    )
