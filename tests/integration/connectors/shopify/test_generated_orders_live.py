"""For every generated storefront order, the canonical totals equal Shopify's to the cent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crossdock.canonical.order import Order
from crossdock.connectors.shopify import BackfillCursor, OrderQuarantined, backfill_orders

from .conftest import Shop


async def test_every_generated_order_decodes_with_shopifys_totals(shop: Shop) -> None:
    async with shop.http.post(f"{shop.base_url}/_sandbox/shopify/orders/generate?count=80") as r:
        assert r.status == 201, await r.text()
    connector = shop.connector()
    result = await backfill_orders(
        connector,
        BackfillCursor(datetime(2020, 1, 1, tzinfo=UTC)),
        until=datetime.now(UTC) + timedelta(days=2),
    )
    assert len(result.deliveries) >= 80
    quarantined: list[str] = []
    for delivery in result.deliveries:
        try:
            [event] = await connector.decode(delivery)
        except OrderQuarantined as exc:
            quarantined.append(str(exc))
            continue
        order = Order.model_validate(event.data)
        source = shop.sim.state.order(int(event.subject.rsplit("/", 1)[1]))
        assert order.totals.total.amount_text() == source["total_price"], source["name"]
        assert order.totals.tax is not None
        assert order.totals.tax.amount_text() == source["total_tax"], source["name"]
    assert quarantined == []
