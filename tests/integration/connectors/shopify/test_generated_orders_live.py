"""For every generated order (placed, edited, cancelled, refunded), the canonical totals equal
Shopify's to the cent: the order as it now stands (``current_*``) whenever units remain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from crossdock.canonical.order import Order
from crossdock.connectors.shopify import BackfillCursor, OrderQuarantined, backfill_orders

from .conftest import Shop


def _stands(source: dict[str, Any]) -> bool:
    return any(ln["current_quantity"] > 0 for ln in source["line_items"])


async def test_every_generated_order_decodes_with_shopifys_totals(shop: Shop) -> None:
    async with shop.http.post(f"{shop.base_url}/_sandbox/shopify/orders/generate?count=80") as r:
        assert r.status == 201, await r.text()
        report = await r.json()
    edited = set(report["edited"])
    connector = shop.connector()
    result = await backfill_orders(
        connector,
        BackfillCursor(datetime(2020, 1, 1, tzinfo=UTC)),
        until=datetime.now(UTC) + timedelta(days=2),
    )
    assert len(result.deliveries) >= 80
    quarantined: list[str] = []
    kinds: dict[str, int] = {"edited": 0, "refunded": 0, "cancelled": 0, "placed": 0}
    for delivery in result.deliveries:
        try:
            [event] = await connector.decode(delivery)
        except OrderQuarantined as exc:
            quarantined.append(str(exc))
            continue
        order = Order.model_validate(event.data)
        source = shop.sim.state.order(int(event.subject.rsplit("/", 1)[1]))
        prefix = "current_" if _stands(source) else ""
        assert order.totals.total.amount_text() == source[f"{prefix}total_price"], source["name"]
        assert order.totals.tax is not None
        assert order.totals.tax.amount_text() == source[f"{prefix}total_tax"], source["name"]
        order.check_totals()
        if source["id"] in edited:
            kinds["edited"] += 1
            current = {
                str(ln["id"]): ln["current_quantity"]
                for ln in source["line_items"]
                if ln["current_quantity"] > 0
            }
            assert {ln.line_id: ln.quantity for ln in order.lines} == current, source["name"]
        elif source["cancelled_at"]:
            kinds["cancelled"] += 1
        elif source["refunds"]:
            kinds["refunded"] += 1
        else:
            kinds["placed"] += 1
    assert quarantined == []
    assert all(count > 0 for count in kinds.values()), kinds
