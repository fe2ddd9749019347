"""846 Inventory Inquiry/Advice, inbound: the 3PL's stock per item."""

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

FUNCTIONAL_ID = "IB"
SET_ID = "846"
AVAILABLE_QUALIFIERS = ("33",)
"""QTY01 codes read as available to sell (33 = quantity available for sale)."""
ON_HAND_QUALIFIERS = ("17",)
"""QTY01 codes read as on hand (17 = quantity on hand)."""

SCHEMA_846 = SetSchema(
    SET_ID,
    {
        "BIA": SegmentRule(
            (req(1, "ID", 2, 2), req(2, "ID", 2, 2), req(3, "AN", 1, 30), req(4, "DT"), El(5, "TM"))
        ),
        "CUR": SegmentRule(),
        "REF": SegmentRule(),
        "PER": SegmentRule(),
        "DTM": SegmentRule(),
        "N1": SegmentRule((req(1, "ID", 2, 3),)),
        "N2": SegmentRule(),
        "N3": SegmentRule(),
        "N4": SegmentRule(),
        "LIN": SegmentRule((req(2, "ID", 2, 2), req(3, "AN", 1, 48))),
        "PID": SegmentRule(),
        "MEA": SegmentRule(),
        "CTP": SegmentRule(),
        "QTY": SegmentRule((req(1, "ID", 2, 2), req(2, "R"))),
        "SCH": SegmentRule(),
        "SDQ": SegmentRule(),
        "CTT": SegmentRule((req(1, "N"),)),
    },
    required=("BIA", "LIN"),
)


@dataclass(frozen=True)
class InventoryItem:
    """One LIN loop of an 846.

    Attributes:
        sku: From the LIN pairs (SK, VN, ...).
        upc: From a UP/UK/EN pair.
        description: PID05 of the first PID.
        quantities: Every QTY01 qualifier -> QTY02.
        uom: QTY03 (first component) of the first QTY.
        product_ids: Every LIN qualifier -> id pair.
    """

    sku: str
    upc: str
    description: str
    quantities: dict[str, Decimal] = field(default_factory=dict, hash=False)
    uom: str = ""
    product_ids: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def available(self) -> Decimal | None:
        """Quantity available for sale (QTY*33), if reported."""
        return next(
            (self.quantities[q] for q in AVAILABLE_QUALIFIERS if q in self.quantities), None
        )

    @property
    def on_hand(self) -> Decimal | None:
        """Quantity on hand (QTY*17), else the available quantity."""
        found = next((self.quantities[q] for q in ON_HAND_QUALIFIERS if q in self.quantities), None)
        return found if found is not None else self.available


@dataclass(frozen=True)
class InventoryAdvice:
    """A read 846.

    Attributes:
        purpose: BIA01 (``00`` original).
        report_type: BIA02 (``SI`` seller inventory, ``MB`` ...).
        reference: BIA03.
        as_of_date: BIA04; ``as_of_time`` BIA05.
        warehouse: The N1*WH party (or ``None``).
        parties: Every N1 loop by entity code.
        items: The LIN loops.
    """

    purpose: str
    report_type: str
    reference: str
    as_of_date: date | None
    as_of_time: time | None
    warehouse: Address | None
    parties: dict[str, Address]
    items: tuple[InventoryItem, ...]


def read_846(
    ts: TransactionSet, *, interchange: int | None = None, group: int | None = None
) -> Mapped[InventoryAdvice]:
    """Map a received 846 to an ``InventoryAdvice``."""
    findings = validate_set(ts, SCHEMA_846, interchange=interchange, group=group)
    if any(x.fatal for x in findings):
        return Mapped(None, tuple(findings))
    first_lin = next((i for i, s in enumerate(ts.segments) if s.tag == "LIN"), len(ts.segments))
    header = list(ts.segments[:first_lin])
    items = _items(ts.segments[first_lin:])
    problems = _check_count(ts, len(items))
    findings += f.stamp(
        problems,
        interchange=interchange,
        group=group,
        set_id=ts.set_id,
        set_control=ts.control_number,
    )
    bia = ts.find("BIA") or Segment("BIA")
    parties = read_party_loops(header)
    advice = InventoryAdvice(
        purpose=bia.get(1),
        report_type=bia.get(2),
        reference=bia.get(3),
        as_of_date=parse_date(bia.get(4)),
        as_of_time=parse_time(bia.get(5)),
        warehouse=parties.get("WH"),
        parties=parties,
        items=tuple(items),
    )
    return Mapped(advice, tuple(findings))


def _items(segments: tuple[Segment, ...]) -> list[InventoryItem]:
    loops: list[list[Segment]] = []
    for segment in segments:
        if segment.tag == "LIN":
            loops.append([segment])
        elif loops:
            loops[-1].append(segment)
    return [_item(loop) for loop in loops]


def _item(loop: list[Segment]) -> InventoryItem:
    lin = loop[0]
    ids = product_ids(lin.get(i) for i in range(2, len(lin.elements) + 1))
    pid = next((s for s in loop if s.tag == "PID"), Segment("PID"))
    quantities: dict[str, Decimal] = {}
    uom = ""
    for qty in (s for s in loop if s.tag == "QTY"):
        value = parse_decimal(qty.get(2))
        if value is not None:
            quantities.setdefault(qty.get(1), value)
            uom = uom or qty.get(3)
    return InventoryItem(
        pick(ids, SKU_QUALIFIERS), pick(ids, UPC_QUALIFIERS), pid.get(5), quantities, uom, ids
    )


def _check_count(ts: TransactionSet, count: int) -> list[Finding]:
    ctt = ts.find("CTT")
    if ctt is None or not ctt.get(1).isdigit() or int(ctt.get(1)) == count:
        return []
    message = f"CTT01 says {ctt.get(1)} line items, the 846 holds {count} LIN loops"
    return [
        Finding(
            Level.ELEMENT,
            f.ELEMENT_INVALID_CODE,
            message,
            segment_id="CTT",
            segment_position=ts.segments.index(ctt) + 2,
            element_position=1,
            bad_value=ctt.get(1),
            fatal=False,
        )
    ]
