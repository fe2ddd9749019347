"""Maps: 940 out, and 945, 856 and 846 in, on real-shaped documents."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal

import pytest

from crossdock.connectors.edi.maps import (
    FUNCTIONAL_IDS,
    Address,
    Carrier,
    OrderLine,
    W12Layout,
    WarehouseShippingOrder,
    map_940,
    map_inbound,
    read_846,
    read_856,
    read_945,
)
from crossdock.connectors.edi.x12 import (
    InMemoryControlNumbers,
    Level,
    Party,
    Segment,
    TransactionSet,
    build_interchange,
    read_x12,
    write_x12,
)
from crossdock.connectors.edi.x12 import findings as f


def _only_set(data: bytes) -> TransactionSet:
    document = read_x12(data)
    assert document.findings == ()
    [ts] = document.interchanges[0].groups[0].sets
    return ts


def _order() -> WarehouseShippingOrder:
    return WarehouseShippingOrder(
        depositor_order_number="SO-1042",
        po_number="PO-88121",
        ship_to=Address(
            "Zoë Ørsted",
            lines=("12 Harbour Street", "Apt 4", "c/o Łukasz"),
            city="Portland",
            state="OR",
            postal_code="97201",
            country="us",
        ),
        bill_to=Address(
            "Zoë Ørsted", city="Portland", state="OR", postal_code="97201", country="US"
        ),
        depositor=Address("Crossdock Retail", "ZZ", "CROSSDOCK"),
        warehouse=Address("Acme Fulfilment Reno", "9", "0799887766001"),
        references=(("CO", "1042"),),
        requested_ship_date=date(2026, 11, 27),
        deliver_by=date(2026, 12, 1),
        carrier=Carrier("UPSN", "PP", "U", "UPS Ground"),
        notes=("Gift wrap – no invoice",),
        lines=(
            OrderLine(
                "1",
                "TSHIRT-BLK-M",
                Decimal(2),
                upc="012345678905",
                description="T-shirt Black M",
                weight=Decimal("0.6"),
            ),
            OrderLine(
                "2",
                "MUG-WHT",
                Decimal("3"),
                description="Mug Weiß",
                buyer_item="B-77",
                weight=Decimal("1.0"),
            ),
        ),
    )


def test_940_body_segments() -> None:
    body = map_940(_order())
    assert body.set_id == "940"
    assert list(body.segments) == [
        Segment.of("W05", "N", "SO-1042", "PO-88121"),
        Segment.of("N1", "ST", "ZOE ORSTED"),
        Segment.of("N3", "12 HARBOUR STREET", "APT 4"),
        Segment.of("N3", "C/O LUKASZ"),
        Segment.of("N4", "PORTLAND", "OR", "97201", "US"),
        Segment.of("N1", "BT", "ZOE ORSTED"),
        Segment.of("N4", "PORTLAND", "OR", "97201", "US"),
        Segment.of("N1", "DE", "CROSSDOCK RETAIL", "ZZ", "CROSSDOCK"),
        Segment.of("N1", "WH", "ACME FULFILMENT RENO", "9", "0799887766001"),
        Segment.of("N9", "CO", "1042"),
        Segment.of("G62", "10", "20261127"),
        Segment.of("G62", "02", "20261201"),
        Segment.of("NTE", "WHI", "GIFT WRAP - NO INVOICE"),
        Segment.of("W66", "PP", "U", "", "", "UPS GROUND", "", "", "", "", "UPSN"),
        Segment.of("LX", "1"),
        Segment.of("W01", "2", "EA", "012345678905", "VN", "TSHIRT-BLK-M"),
        Segment.of("G69", "T-SHIRT BLACK M"),
        Segment.of("N9", "LI", "1"),
        Segment.of("LX", "2"),
        Segment.of("W01", "3", "EA", "", "VN", "MUG-WHT", "BP", "B-77"),
        Segment.of("G69", "MUG WEISS"),
        Segment.of("N9", "LI", "2"),
        Segment.of("W76", "5", "1.6", "LB"),
    ]


def test_940_is_written_in_an_ow_group_and_reads_back(at: datetime) -> None:
    ic = build_interchange(
        sender=Party("ZZ", "CROSSDOCK"),
        receiver=Party("ZZ", "ACME3PL"),
        functional_id=FUNCTIONAL_IDS["940"],
        sets=[map_940(_order())],
        counters=InMemoryControlNumbers(),
        at=at,
    )
    text = write_x12(ic)
    text.encode("ascii")
    document = read_x12(text)
    assert document.findings == ()
    assert document.interchanges[0].groups[0].functional_id == "OW"
    assert document.interchanges[0].groups[0].sets[0].segments == tuple(map_940(_order()).segments)


def test_940_without_lines_is_refused() -> None:
    order = _order()
    with pytest.raises(ValueError, match="no lines"):
        map_940(WarehouseShippingOrder(order.depositor_order_number, order.ship_to, ()))


def test_945_default_delimiters(fixture_bytes: Callable[[str], bytes]) -> None:
    mapped = read_945(_only_set(fixture_bytes("945_default.x12")))
    assert mapped.ok
    advice = mapped.value
    assert advice is not None
    assert (advice.depositor_order_number, advice.po_number, advice.shipment_id) == (
        "SO-1042",
        "PO-88121",
        "SHP778812",
    )
    assert advice.bill_of_lading == "BOL778812"
    assert advice.tracking_numbers == ("1Z999AA10123456784",)
    assert (advice.shipped_on, advice.shipped_time) == (date(2026, 11, 26), time(18, 15))
    assert (advice.scac, advice.routing, advice.payment) == ("UPSN", "UPS GROUND", "PP")
    assert advice.parties["ST"].lines == ("12 HARBOUR STREET", "APT 4")
    assert [(ln.line_number, ln.sku, ln.ordered, ln.shipped, ln.short) for ln in advice.lines] == [
        ("1", "TSHIRT-BLK-M", Decimal(2), Decimal(2), False),
        ("2", "MUG-WHT", Decimal(3), Decimal(1), True),
    ]
    assert [ln.sku for ln in advice.short_lines] == ["MUG-WHT"]
    assert advice.lines[0].upc == "012345678905"
    assert (advice.total_quantity, advice.total_weight, advice.weight_uom) == (
        Decimal(3),
        Decimal("4.2"),
        "LB",
    )


def test_945_pipe_and_line_feed_with_w12_variants(fixture_bytes: Callable[[str], bytes]) -> None:
    mapped = read_945(_only_set(fixture_bytes("945_pipe_lf.x12")))
    advice = mapped.value
    assert advice is not None
    assert mapped.ok
    short, complete = advice.lines
    # W1202 (ordered) missing: ordered = shipped + difference; id written before its qualifier.
    assert (short.sku, short.ordered, short.shipped, short.difference, short.status) == (
        "TSHIRT-BLK-L",
        Decimal(6),
        Decimal(4),
        Decimal(2),
        "PR",
    )
    assert (complete.sku, complete.upc, complete.short) == ("CAP-RED", "012345678912", False)
    assert advice.tracking_numbers == ("9400111899223344556677", "9400111899223344556684")
    assert advice.bill_of_lading == "SHP778900"


def _945(*lines: Segment) -> TransactionSet:
    return TransactionSet(
        "945", "0001", (Segment.of("W06", "F", "SO-9", "20261127"), *lines, Segment.of("W03", "1"))
    )


def test_w12_partner_layout_and_inconsistent_difference() -> None:
    # A guide that puts shipped in W1202 and ordered in W1203, qualifier pairs from W1208.
    layout = W12Layout(ordered=3, shipped=2, ids_from=8)
    ts = _945(
        Segment.of("LX", "1"), Segment.of("W12", "CP", "1", "5", "4", "EA", "", "", "SK", "A-1")
    )
    mapped = read_945(ts, layout=layout)
    assert mapped.value is not None
    [line] = mapped.value.lines
    assert (line.shipped, line.ordered, line.sku, line.short) == (
        Decimal(1),
        Decimal(5),
        "A-1",
        True,
    )
    mismatch = read_945(_945(Segment.of("LX", "1"), Segment.of("W12", "CC", "5", "5", "2", "EA")))
    assert mismatch.ok
    [finding] = mismatch.findings
    assert (finding.segment_id, finding.element_position, finding.fatal) == ("W12", 4, False)
    assert "is not ordered 5 minus shipped 5" in finding.message


def test_w12_without_quantities_is_a_fatal_finding() -> None:
    mapped = read_945(
        _945(Segment.of("LX", "1"), Segment.of("W12", "CC", "", "", "", "EA", "", "VN", "A"))
    )
    assert mapped.value is None
    [finding] = [x for x in mapped.findings if x.fatal]
    assert (finding.level, finding.code, finding.segment_id, finding.segment_position) == (
        Level.ELEMENT,
        f.ELEMENT_MANDATORY_MISSING,
        "W12",
        4,
    )


@pytest.mark.parametrize("name", ["856_default.x12", "856_crlf.x12"])
def test_856_hierarchy_is_flattened(fixture_bytes: Callable[[str], bytes], name: str) -> None:
    mapped = read_856(_only_set(fixture_bytes(name)))
    notice = mapped.value
    assert notice is not None
    assert mapped.findings == ()
    assert (notice.shipment_id, notice.notice_date, notice.notice_time) == (
        "SHP778812",
        date(2026, 11, 26),
        time(18, 30),
    )
    assert (notice.bill_of_lading, notice.scac, notice.shipped_on) == (
        "BOL778812",
        "UPSN",
        date(2026, 11, 26),
    )
    assert (notice.weight, notice.weight_uom, notice.packages) == (Decimal("4.2"), "LB", 2)
    assert [
        (ln.po_number, ln.tracking_number, ln.sku, ln.quantity, ln.ordered) for ln in notice.lines
    ] == [
        ("PO-88121", "1Z999AA10123456784", "TSHIRT-BLK-M", Decimal(2), Decimal(2)),
        ("PO-88121", "1Z999AA10123456791", "MUG-WHT", Decimal(1), Decimal(3)),
    ]
    assert notice.lines[1].marks == (("GM", "00000123450000000018"), ("CP", "1Z999AA10123456791"))
    assert notice.tracking_numbers == ("1Z999AA10123456784", "1Z999AA10123456791")
    assert notice.parties["ST"].name == "ZOE ORSTED"


def test_856_broken_parent_and_missing_sn1_are_findings() -> None:
    ts = TransactionSet(
        "856",
        "0001",
        (
            Segment.of("BSN", "00", "S1", "20261127", "1200"),
            Segment.of("HL", "1", "", "S"),
            Segment.of("HL", "2", "9", "O"),
            Segment.of("HL", "3", "1", "I"),
            Segment.of("LIN", "", "SK", "A"),
        ),
    )
    mapped = read_856(ts)
    assert mapped.value is None
    assert {(x.segment_id, x.segment_position, x.element_position) for x in mapped.findings} == {
        ("HL", 4, 2),
        ("SN1", 5, None),
    }


def test_846_inventory_levels(fixture_bytes: Callable[[str], bytes]) -> None:
    mapped = read_846(_only_set(fixture_bytes("846_caret.x12")))
    advice = mapped.value
    assert advice is not None
    assert mapped.findings == ()
    assert (advice.report_type, advice.as_of_date, advice.as_of_time) == (
        "SI",
        date(2026, 11, 27),
        time(6, 0),
    )
    assert advice.warehouse is not None
    assert advice.warehouse.id == "0799887766001"
    assert [(i.sku, i.upc, i.available, i.on_hand, i.uom) for i in advice.items] == [
        ("TSHIRT-BLK-M", "012345678905", Decimal(118), Decimal(120), "EA"),
        ("MUG-WHT", "", Decimal(0), Decimal(2), "EA"),
        ("CAP-RED", "", None, Decimal(45), "EA"),
    ]
    assert advice.items[0].description == "T-SHIRT BLACK M"


def test_846_ctt_mismatch_is_reported_but_not_fatal() -> None:
    ts = TransactionSet(
        "846",
        "0001",
        (
            Segment.of("BIA", "00", "SI", "R1", "20261127"),
            Segment.of("LIN", "", "SK", "A"),
            Segment.of("QTY", "33", "4"),
            Segment.of("CTT", "2"),
        ),
    )
    mapped = read_846(ts)
    assert mapped.ok
    assert [(x.segment_id, x.bad_value, x.fatal) for x in mapped.findings] == [("CTT", "2", False)]


def test_map_inbound_dispatches_by_set_id(fixture_bytes: Callable[[str], bytes]) -> None:
    assert map_inbound(_only_set(fixture_bytes("846_caret.x12"))) is not None
    assert map_inbound(TransactionSet("810", "0001")) is None
