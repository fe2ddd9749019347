"""945, 856 and 846 values -> canonical shipments and inventory levels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from decimal import Decimal

from crossdock.canonical.inventory import InventoryLevel
from crossdock.canonical.refs import OrderRef
from crossdock.canonical.shipment import Shipment, ShipmentLine
from crossdock.connectors.edi.maps.a856 import ShipNotice
from crossdock.connectors.edi.maps.i846 import ON_HAND_QUALIFIERS, InventoryAdvice
from crossdock.connectors.edi.maps.w945 import ShippingAdvice

CARRIERS_BY_SCAC: Mapping[str, str] = {
    "UPSN": "UPS",
    "UPSS": "UPS",
    "UPGF": "UPS",
    "FDEG": "FedEx",
    "FDE": "FedEx",
    "FDEN": "FedEx",
    "FXFE": "FedEx",
    "USPS": "USPS",
    "DHLC": "DHL Express",
    "DHL": "DHL Express",
    "ONTC": "OnTrac",
}
"""Carrier names for common SCACs; an unknown SCAC is used as the carrier name."""


@dataclass(frozen=True)
class Skipped:
    """Something a 3PL document reported that has no canonical place, kept for the operator."""

    what: str
    reason: str


def advice_to_shipments(
    advice: ShippingAdvice, *, location: str, tz: tzinfo = UTC
) -> list[Shipment]:
    """Canonical shipments of a 945: one per tracking number the lines name.

    Lines with their own MAN*CP go to that tracking number; the others go to the first header
    tracking number (N9*2I). Lines shipped at zero are left out; short picks carry the shipped
    quantity. The last shipment carries what the advice says of the whole warehouse order:
    ``final`` (W0601 ``F`` final, ``P`` partial: more follows) and ``short_lines`` (W12 lines
    shipped short of what they ordered, by how much), so that a flow reading shipments in
    order sees every shipment of a final advice before it decides that the order came short.
    A final 945 that shipped nothing at all gives one shipment without lines whose
    ``short_lines`` say what did not ship (a notice, not a parcel).

    Raises:
        ValueError: A shipped quantity is not a whole number.
    """
    order = OrderRef(number=advice.depositor_order_number)
    header_tracking = advice.tracking_numbers[0] if advice.tracking_numbers else None
    groups: dict[str | None, list[ShipmentLine]] = {}
    for line in advice.lines:
        if line.shipped <= 0:
            continue
        tracking = next((v for q, v in line.marks if q == "CP"), header_tracking)
        shipped = ShipmentLine(
            line_id=line.line_number or None,
            sku=line.sku or None,
            quantity=_whole(line.shipped, line.sku),
        )
        groups.setdefault(tracking, []).append(shipped)
    shipped_at = _at(advice.shipped_on, advice.shipped_time, tz)
    final = {"F": True, "P": False}.get(advice.status.strip().upper())
    short = [
        ShipmentLine(
            line_id=line.line_number or None,
            sku=line.sku or None,
            quantity=_whole(line.difference, line.sku),
        )
        for line in advice.short_lines
    ]
    if not groups and final and short:
        # Nothing shipped at all: a notice that the warehouse order ends short, no parcel.
        groups[header_tracking] = []
    last = len(groups) - 1
    return [
        Shipment(
            order=order,
            lines=lines,
            carrier=CARRIERS_BY_SCAC.get(advice.scac, advice.scac or "unknown"),
            service=advice.routing or None,
            tracking_number=tracking,
            status="pre_transit",
            status_detail="label_created",
            location=location,
            shipped_at=shipped_at,
            final=final if index == last else (False if final is not None else None),
            short_lines=(short or None) if index == last else None,
        )
        for index, (tracking, lines) in enumerate(groups.items())
    ]


def notice_to_shipments(notice: ShipNotice, *, location: str, tz: tzinfo = UTC) -> list[Shipment]:
    """Canonical shipments of an 856: one per (order PO, pack tracking number).

    The order is referenced by the PRF purchase order number (the 940's W0503).
    """
    groups: dict[tuple[str, str], list[ShipmentLine]] = {}
    for line in notice.lines:
        if line.quantity <= 0:
            continue
        key = (line.po_number, line.tracking_number)
        groups.setdefault(key, []).append(
            ShipmentLine(sku=line.sku or None, quantity=_whole(line.quantity, line.sku))
        )
    shipped_at = _at(notice.shipped_on or notice.notice_date, None, tz)
    return [
        Shipment(
            order=OrderRef(number=po or notice.shipment_id),
            lines=lines,
            carrier=CARRIERS_BY_SCAC.get(notice.scac, notice.scac or "unknown"),
            service=notice.routing or None,
            tracking_number=tracking or None,
            status="pre_transit",
            status_detail="label_created",
            location=location,
            shipped_at=shipped_at,
        )
        for (po, tracking), lines in groups.items()
    ]


def advice_to_levels(
    advice: InventoryAdvice, *, location: str, source: str, tz: tzinfo = UTC
) -> tuple[list[InventoryLevel], list[Skipped]]:
    """Canonical inventory levels of an 846, and the items that could not become one.

    ``available`` is QTY*33 (else the on-hand quantity); ``on_hand`` is QTY*17 when sent.
    """
    as_of = _at(advice.as_of_date, advice.as_of_time, tz) or datetime.now(UTC)
    levels: list[InventoryLevel] = []
    skipped: list[Skipped] = []
    for item in advice.items:
        label = item.sku or item.upc or "?"
        available = item.available if item.available is not None else item.on_hand
        if not item.sku:
            skipped.append(Skipped(label, "no SKU in the LIN segment"))
        elif available is None:
            skipped.append(Skipped(label, "no QTY*33 or QTY*17 quantity"))
        elif available != available.to_integral_value() or (
            item.on_hand is not None and item.on_hand != item.on_hand.to_integral_value()
        ):
            skipped.append(Skipped(label, f"quantity is not a whole number ({available})"))
        else:
            counted = next(
                (item.quantities[q] for q in ON_HAND_QUALIFIERS if q in item.quantities), None
            )
            on_hand = int(counted) if counted is not None else None
            levels.append(
                InventoryLevel(
                    sku=item.sku,
                    location=location,
                    on_hand=on_hand,
                    available=int(available),
                    as_of=as_of,
                    source=source,
                )
            )
    return levels, skipped


def _whole(quantity: Decimal, sku: str) -> int:
    if quantity != quantity.to_integral_value():
        raise ValueError(f"shipped quantity {quantity} of {sku or 'a line'} is not a whole number")
    return int(quantity)


def _at(day: date | None, moment: time | None, tz: tzinfo) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day, moment or time(0, 0), tzinfo=tz)
