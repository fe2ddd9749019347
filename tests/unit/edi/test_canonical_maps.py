"""Canonical order -> 940, and 945/856/846 -> canonical shipments and inventory levels."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from crossdock.canonical.address import Address as CanonicalAddress
from crossdock.canonical.money import Money
from crossdock.canonical.order import Order, OrderLine, OrderTotals
from crossdock.connectors.edi.maps import (
    Address,
    Carrier,
    advice_to_levels,
    advice_to_shipments,
    map_940,
    notice_to_shipments,
    order_to_940,
    read_846,
    read_856,
    read_945,
)
from crossdock.connectors.edi.x12 import Segment, TransactionSet, read_x12


def _order(**changes: object) -> Order:
    eur = "EUR"
    data: dict[str, object] = {
        "number": "SO-1042",
        "channel": "shopify:web",
        "currency": eur,
        "purchase_order": "PO-88121",
        "shipping_address": CanonicalAddress(
            first_name="Zoë",
            last_name="Ørsted",
            line1="Große Straße 5",
            city="Köln",
            region_code="NW",
            postal_code="50667",
            country_code="DE",
        ),
        "lines": [
            OrderLine(
                line_id="11",
                sku="TSHIRT-BLK-M",
                title="T-shirt",
                variant_title="Black / M",
                quantity=2,
                unit_price=Money("10.00", eur),
            ),
            OrderLine(
                line_id="12",
                title="Gift card",
                quantity=1,
                unit_price=Money("5.00", eur),
                gift_card=True,
                requires_shipping=False,
                taxable=False,
            ),
        ],
        "totals": OrderTotals(total=Money("25.00", eur)),
        "status": "open",
        "placed_at": datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
        "note": "Leave at the door",
    }
    data.update(changes)
    return Order.model_validate(data)


def _set(data: bytes) -> TransactionSet:
    return read_x12(data).interchanges[0].groups[0].sets[0]


def test_canonical_order_becomes_a_940_with_transliterated_party() -> None:
    release = order_to_940(
        _order(),
        warehouse=Address("Acme Reno", "9", "0799887766001"),
        carrier=Carrier("UPSN", routing="UPS Ground"),
        upc_by_sku={"TSHIRT-BLK-M": "012345678905"},
    )
    assert [line.line_number for line in release.lines] == ["11"]  # the gift card is not shipped
    segments = list(map_940(release).segments)
    assert segments[0] == Segment.of("W05", "N", "SO-1042", "PO-88121")
    assert segments[1:4] == [
        Segment.of("N1", "ST", "ZOE ORSTED"),
        Segment.of("N3", "GROSSE STRASSE 5"),
        Segment.of("N4", "KOLN", "NW", "50667", "DE"),
    ]
    assert Segment.of("W01", "2", "EA", "012345678905", "VN", "TSHIRT-BLK-M") in segments
    assert Segment.of("G69", "T-SHIRT BLACK / M") in segments
    assert Segment.of("N9", "LI", "11") in segments
    assert Segment.of("NTE", "WHI", "LEAVE AT THE DOOR") in segments


def test_order_without_shippable_sku_is_refused() -> None:
    line = OrderLine(line_id="1", title="Custom", quantity=1, unit_price=Money("5.00", "EUR"))
    with pytest.raises(ValueError, match="line 1 has no SKU"):
        order_to_940(_order(lines=[line], totals=OrderTotals(total=Money("5.00", "EUR"))))
    with pytest.raises(ValueError, match="no shipping address"):
        order_to_940(_order(shipping_address=None))


def test_945_becomes_shipments_with_short_picks(fixture_bytes: Callable[[str], bytes]) -> None:
    advice = read_945(_set(fixture_bytes("945_default.x12"))).value
    assert advice is not None
    pacific = timezone(timedelta(hours=-8))
    [shipment] = advice_to_shipments(advice, location="acme-reno", tz=pacific)
    assert shipment.order.number == "SO-1042"
    assert (shipment.carrier, shipment.service, shipment.tracking_number) == (
        "UPS",
        "UPS GROUND",
        "1Z999AA10123456784",
    )
    assert [(ln.line_id, ln.sku, ln.quantity) for ln in shipment.lines] == [
        ("1", "TSHIRT-BLK-M", 2),
        ("2", "MUG-WHT", 1),
    ]
    assert shipment.shipped_at == datetime(2026, 11, 26, 18, 15, tzinfo=pacific)
    assert shipment.status == "pre_transit"
    assert [ln.sku for ln in advice.short_lines] == ["MUG-WHT"]


def test_856_becomes_one_shipment_per_package(fixture_bytes: Callable[[str], bytes]) -> None:
    notice = read_856(_set(fixture_bytes("856_default.x12"))).value
    assert notice is not None
    shipments = notice_to_shipments(notice, location="acme-reno")
    assert [
        (s.order.number, s.tracking_number, [(ln.sku, ln.quantity) for ln in s.lines])
        for s in shipments
    ] == [
        ("PO-88121", "1Z999AA10123456784", [("TSHIRT-BLK-M", 2)]),
        ("PO-88121", "1Z999AA10123456791", [("MUG-WHT", 1)]),
    ]


def test_846_becomes_inventory_levels(fixture_bytes: Callable[[str], bytes]) -> None:
    advice = read_846(_set(fixture_bytes("846_caret.x12"))).value
    assert advice is not None
    levels, skipped = advice_to_levels(advice, location="acme-reno", source="edi:acme")
    assert [(lv.sku, lv.available, lv.on_hand) for lv in levels] == [
        ("TSHIRT-BLK-M", 118, 120),
        ("MUG-WHT", 0, 2),
        ("CAP-RED", 45, 45),  # only QTY*17 sent: available falls back to on hand
    ]
    assert all(lv.as_of == datetime(2026, 11, 27, 6, 0, tzinfo=UTC) for lv in levels)
    assert skipped == []


def test_846_items_without_sku_or_whole_quantity_are_skipped_with_a_reason() -> None:
    ts = TransactionSet(
        "846",
        "0001",
        (
            Segment.of("BIA", "00", "SI", "R1", "20261127"),
            Segment.of("LIN", "", "UP", "012345678905"),
            Segment.of("QTY", "33", "4"),
            Segment.of("LIN", "", "SK", "A"),
            Segment.of("QTY", "33", "2.5"),
            Segment.of("LIN", "", "SK", "B"),
            Segment.of("PID", "F", "", "", "", "NO QTY"),
        ),
    )
    advice = read_846(ts).value
    assert advice is not None
    levels, skipped = advice_to_levels(advice, location="acme-reno", source="edi:acme")
    assert levels == []
    assert [(s.what, s.reason) for s in skipped] == [
        ("012345678905", "no SKU in the LIN segment"),
        ("A", "quantity is not a whole number (2.5)"),
        ("B", "no QTY*33 or QTY*17 quantity"),
    ]
