"""Maps between transaction sets and typed values: 940 out; 945, 856 and 846 in."""

from __future__ import annotations

from crossdock.connectors.edi.maps._common import Address, Mapped
from crossdock.connectors.edi.maps.a856 import NoticeLine, ShipNotice, read_856
from crossdock.connectors.edi.maps.canonical_in import (
    CARRIERS_BY_SCAC,
    Skipped,
    advice_to_levels,
    advice_to_shipments,
    notice_to_shipments,
)
from crossdock.connectors.edi.maps.canonical_out import address_from_canonical, order_to_940
from crossdock.connectors.edi.maps.i846 import InventoryAdvice, InventoryItem, read_846
from crossdock.connectors.edi.maps.w940 import Carrier, OrderLine, WarehouseShippingOrder, map_940
from crossdock.connectors.edi.maps.w945 import ShippedLine, ShippingAdvice, W12Layout, read_945
from crossdock.connectors.edi.x12.envelope import TransactionSet

Inbound = ShippingAdvice | ShipNotice | InventoryAdvice

FUNCTIONAL_IDS = {"940": "OW", "945": "SW", "856": "SH", "846": "IB", "997": "FA"}
"""GS01 for each transaction set we speak."""


def map_inbound(
    ts: TransactionSet,
    *,
    interchange: int | None = None,
    group: int | None = None,
    w12_layout: W12Layout | None = None,
) -> Mapped[Inbound] | None:
    """Map a received 945, 856 or 846; ``None`` for a set id no map reads."""
    if ts.set_id == "945":
        advice = read_945(ts, layout=w12_layout, interchange=interchange, group=group)
        return Mapped(advice.value, advice.findings)
    if ts.set_id == "856":
        notice = read_856(ts, interchange=interchange, group=group)
        return Mapped(notice.value, notice.findings)
    if ts.set_id == "846":
        inventory = read_846(ts, interchange=interchange, group=group)
        return Mapped(inventory.value, inventory.findings)
    return None


__all__ = [
    "CARRIERS_BY_SCAC",
    "FUNCTIONAL_IDS",
    "Address",
    "Carrier",
    "Inbound",
    "InventoryAdvice",
    "InventoryItem",
    "Mapped",
    "NoticeLine",
    "OrderLine",
    "ShipNotice",
    "ShippedLine",
    "ShippingAdvice",
    "Skipped",
    "W12Layout",
    "WarehouseShippingOrder",
    "address_from_canonical",
    "advice_to_levels",
    "advice_to_shipments",
    "map_940",
    "map_inbound",
    "notice_to_shipments",
    "order_to_940",
    "read_846",
    "read_856",
    "read_945",
]
