"""Signed webhooks from the simulator: verified on the raw bytes, deduplicated, decoded."""

from __future__ import annotations

from collections import Counter

import pytest

from crossdock.backbone.store import Command, Delivery
from crossdock.canonical.order import Order
from crossdock.connectors.shopify import (
    InvalidSignatureError,
    ShopifyConnector,
    delivery_key,
    inbox_dedupe_key,
)
from crossdock.connectors.shopify.webhooks import WebhookHeaders

from .conftest import Hook, Shop

TOPICS = (
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "refunds/create",
    "inventory_levels/update",
    "products/update",
)


def as_delivery(connector: ShopifyConnector, hook: Hook) -> Delivery:
    """What the ingress stores: raw bytes, the X-Shopify-* headers, the inbox key."""
    return connector.to_delivery(hook.headers, hook.raw)


async def test_every_topic_arrives_signed_and_decodes(shop: Shop) -> None:
    await shop.subscribe(*TOPICS)
    connector = shop.connector()
    order = await shop.place(
        {"line_items": [{"sku": "MUG-RED", "quantity": 2}, {"sku": "BAG-20L", "quantity": 1}]}
    )
    await connector.perform(
        _cmd(
            "order.refund",
            order_id=order["id"],
            refund_line_items=[
                {
                    "line_item_id": order["line_items"][0]["id"],
                    "quantity": 1,
                    "restock_type": "return",
                    "location_id": shop.location("Entrepôt Lyon"),
                }
            ],
        )
    )
    variant = next(v for v in shop.sim.state.variants.values() if v["sku"] == "MUG-BLU")
    await connector.perform(
        _cmd(
            "price.update",
            product_id=variant["product_id"],
            variants=[{"variant_id": variant["id"], "price": "15.90"}],
        )
    )
    await connector.perform(_cmd("order.cancel", order_id=order["id"], reason="customer"))
    await shop.drain()

    seen: Counter[str] = Counter()
    for hook in shop.hooks:
        assert hook.headers["user-agent"] == "Shopify-Captain-Hook"
        assert await connector.verify(hook.headers, hook.raw)
        events = await connector.decode(as_delivery(connector, hook))
        seen.update(e.type for e in events)
        for event in events:
            assert event.source == "shopify:crossdock-sandbox.myshopify.com"
            assert event.subject
    assert seen["order.placed"] == 1
    assert seen["order.cancelled"] == 1
    assert seen["order.updated"] >= 2
    assert seen["order.refunded"] == 1
    assert seen["return.refunded"] == 1
    assert seen["inventory.changed"] >= 2
    assert seen["product.updated"] >= 1
    assert seen["price.changed"] >= 2


async def test_the_placed_order_totals_equal_shopifys_to_the_cent(shop: Shop) -> None:
    await shop.subscribe("orders/create")
    async with shop.http.post(f"{shop.base_url}/_sandbox/shopify/orders/generate?count=15") as r:
        assert r.status == 201, await r.text()
    await shop.drain()
    connector = shop.connector()
    checked = 0
    for hook in shop.hooks:
        [event] = await connector.decode(as_delivery(connector, hook))
        order = Order.model_validate(event.data)
        source = shop.sim.state.order(int(event.subject.rsplit("/", 1)[1]))
        assert order.totals.total.amount_text() == source["total_price"]
        checked += 1
    assert checked == 15


async def test_a_retried_delivery_keeps_its_keys_and_its_event_id(shop: Shop) -> None:
    await shop.subscribe("orders/create")
    shop.fail_hooks = 2  # the first two attempts fail: Shopify retries the same delivery
    await shop.place({"line_items": [{"sku": "MUG-RED", "quantity": 1}]})
    await shop.drain()
    [hook] = shop.hooks
    connector = shop.connector()
    parsed = WebhookHeaders.parse(hook.headers)
    assert delivery_key(parsed) is not None
    assert inbox_dedupe_key(parsed).startswith("event:orders/create:")
    stored, redelivered = as_delivery(connector, hook), as_delivery(connector, hook)
    assert stored.dedupe_key == redelivered.dedupe_key == inbox_dedupe_key(parsed)
    assert stored.correlation_id != redelivered.correlation_id
    assert "user-agent" not in stored.headers
    assert stored.headers["x-shopify-topic"] == "orders/create"
    first = await connector.decode(stored)
    again = await connector.decode(redelivered)
    assert [e.id for e in first] == [e.id for e in again]


async def test_a_wrong_secret_or_a_rewritten_body_is_refused(shop: Shop) -> None:
    await shop.subscribe("orders/create")
    await shop.place({"line_items": [{"sku": "BAG-20L", "quantity": 1}]})
    await shop.drain()
    [hook] = shop.hooks
    assert "Straßen".encode() in hook.raw  # raw UTF-8 on the wire
    stranger = shop.connector(webhook_secrets=("not-the-secret",))
    assert not await stranger.verify(hook.headers, hook.raw)
    with pytest.raises(InvalidSignatureError):
        stranger.verify_or_raise(hook.headers, hook.raw)
    connector = shop.connector()
    rewritten = hook.raw.replace("Straßen".encode(), b"Stra\\u00dfen")
    assert not await connector.verify(hook.headers, rewritten)
    rotated = shop.connector(webhook_secrets=("the-new-secret", shop.sim.client_secret))
    assert await rotated.verify(hook.headers, hook.raw)


_counter = iter(range(1, 1_000_000))


def _cmd(kind: str, **payload: object) -> Command:
    return Command(
        idempotency_key=f"{kind}-{next(_counter)}",
        destination="shopify",
        kind=kind,
        payload=payload,
    )
