"""Backfill by updated_at window with Link pagination, deduplicated against the webhooks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crossdock.backbone.store import Delivery
from crossdock.connectors.shopify import (
    BackfillCursor,
    ShopifyConnector,
    backfill_orders,
    inbox_dedupe_key,
)

from .conftest import Hook, Shop

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


async def test_backfill_pages_through_the_window_and_matches_the_webhook_events(shop: Shop) -> None:
    await shop.subscribe("orders/create", "orders/updated", "orders/cancelled")
    placed = [
        await shop.place({"line_items": [{"sku": "MUG-RED", "quantity": n}]})
        for n in (1, 2, 3, 4, 5)
    ]
    async with shop.http.post(
        f"{shop.base_url}/_sandbox/shopify/orders/{placed[1]['id']}/cancel",
        json={"reason": "customer"},
    ) as r:
        assert r.status == 200, await r.text()
    await shop.drain()
    connector = shop.connector()
    webhook_ids: set[str] = set()
    for hook in shop.hooks:
        delivery = _delivery(connector, hook)
        webhook_ids.update(e.id for e in await connector.decode(delivery))

    until = datetime.now(UTC) + timedelta(days=2)
    result = await backfill_orders(connector, BackfillCursor(EPOCH), until=until, page_limit=2)
    assert result.pages == 3
    assert len(result.deliveries) == 5
    assert result.cursor is not None
    assert result.cursor.updated_at_min == until
    backfill_ids: set[str] = set()
    for delivery in result.deliveries:
        assert delivery.headers["X-Crossdock-Backfill"] == "true"
        backfill_ids.update(e.id for e in await connector.decode(delivery))
    assert backfill_ids <= webhook_ids  # nothing new: the webhooks brought every state
    types = sorted(d.headers["X-Shopify-Topic"] for d in result.deliveries)
    assert types == ["orders/cancelled"] + ["orders/create"] * 4


async def test_backfill_recovers_a_delivery_that_never_arrived(shop: Shop) -> None:
    await shop.subscribe("orders/create")
    shop.fail_hooks = 10_000  # the receiver is down: every delivery and retry fails
    order = await shop.place({"line_items": [{"sku": "BAG-20L", "quantity": 1}]})
    connector = shop.connector()
    result = await backfill_orders(
        connector, BackfillCursor(EPOCH), until=datetime.now(UTC) + timedelta(days=2)
    )
    [delivery] = result.deliveries
    [event] = await connector.decode(delivery)
    assert event.type == "order.placed"
    assert event.subject == f"gid://shopify/Order/{order['id']}"
    assert shop.hooks == []


async def test_a_window_already_covered_reads_nothing(shop: Shop) -> None:
    connector = shop.connector()
    now = datetime.now(UTC)
    result = await backfill_orders(connector, BackfillCursor(now), until=now - timedelta(minutes=5))
    assert result.deliveries == []
    assert result.pages == 0
    assert result.cursor == BackfillCursor(now)


def _delivery(connector: ShopifyConnector, hook: Hook) -> Delivery:
    parsed = connector.verify_or_raise(hook.headers, hook.raw)
    return Delivery(
        connector.settings.source, inbox_dedupe_key(parsed), hook.raw, hook.headers, "c"
    )
