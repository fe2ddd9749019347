"""Shopify webhooks from the simulator: every header, base64 HMAC over raw bytes, retries, chaos."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from .conftest import ShopifyRig

HEADERS = (
    "x-shopify-topic",
    "x-shopify-hmac-sha256",
    "x-shopify-shop-domain",
    "x-shopify-api-version",
    "x-shopify-webhook-id",
    "x-shopify-event-id",
    "x-shopify-triggered-at",
)


def _signed(rig: ShopifyRig, hook: dict[str, Any]) -> bool:
    digest = hmac.new(rig.sim.client_secret.encode(), hook["raw"], hashlib.sha256).digest()
    expected = base64.b64encode(digest).decode()
    return hmac.compare_digest(expected, hook["headers"]["x-shopify-hmac-sha256"])


def _topics(rig: ShopifyRig) -> list[str]:
    return [h["headers"]["x-shopify-topic"] for h in rig.hooks]


async def test_order_create_carries_every_header_and_a_valid_hmac(shopify: ShopifyRig) -> None:
    await shopify.subscribe(["orders/create", "inventory_levels/update"])
    order = await shopify.place(
        {
            "line_items": [{"sku": "BAG-20L", "quantity": 1}],
            "shipping_address": {"name": "Zoë Ørsted", "city": "København"},
        }
    )
    await shopify.drain()
    assert sorted(_topics(shopify)) == ["inventory_levels/update", "orders/create"]
    hook = next(h for h in shopify.hooks if h["headers"]["x-shopify-topic"] == "orders/create")
    assert all(name in hook["headers"] for name in HEADERS)
    assert _signed(shopify, hook)
    assert hook["headers"]["x-shopify-shop-domain"].endswith(".myshopify.com")
    assert "Zoë Ørsted".encode() in hook["raw"]  # raw UTF-8, not \u escapes
    assert hook["body"]["id"] == order["id"]
    datetime.fromisoformat(hook["headers"]["x-shopify-triggered-at"])
    level = next(h for h in shopify.hooks if h is not hook)["body"]
    assert set(level) == {
        "inventory_item_id",
        "location_id",
        "available",
        "updated_at",
        "admin_graphql_api_id",
    }


async def test_a_tampered_body_no_longer_matches(shopify: ShopifyRig) -> None:
    await shopify.subscribe(["orders/create"])
    await shopify.place()
    await shopify.drain()
    [hook] = shopify.hooks
    reserialised = json.dumps(hook["body"]).encode()  # re-encoded JSON is not the raw bytes
    assert not _signed(shopify, hook | {"raw": reserialised})


async def test_cancel_sends_cancelled_and_updated_with_one_event_id(shopify: ShopifyRig) -> None:
    await shopify.subscribe(["orders/cancelled", "orders/updated"])
    order = await shopify.place()
    url = f"{shopify.api}/orders/{order['id']}/cancel.json"
    async with shopify.http.post(url, json={"reason": "inventory"}) as r:
        assert r.status == 200
    await shopify.drain()
    assert sorted(_topics(shopify)) == ["orders/cancelled", "orders/updated"]
    assert len({h["headers"]["x-shopify-event-id"] for h in shopify.hooks}) == 1
    assert len({h["headers"]["x-shopify-webhook-id"] for h in shopify.hooks}) == 2
    assert all(h["body"]["cancel_reason"] == "inventory" for h in shopify.hooks)


async def test_refund_and_product_topics(shopify: ShopifyRig) -> None:
    await shopify.subscribe(["refunds/create", "products/update"])
    order = await shopify.place()
    line = order["line_items"][0]
    body = {"refund": {"refund_line_items": [{"line_item_id": line["id"], "quantity": 1}]}}
    async with shopify.http.post(f"{shopify.api}/orders/{order['id']}/refunds.json", json=body):
        pass
    variant_id = line["variant_id"]
    async with shopify.http.put(
        f"{shopify.api}/variants/{variant_id}.json", json={"variant": {"price": "16.00"}}
    ):
        pass
    await shopify.drain()
    by_topic = {h["headers"]["x-shopify-topic"]: h["body"] for h in shopify.hooks}
    assert isinstance(by_topic["refunds/create"]["refund_line_items"][0]["subtotal"], float)
    product = by_topic["products/update"]
    assert [g["admin_graphql_api_id"] for g in product["variant_gids"]] == [
        v["admin_graphql_api_id"] for v in product["variants"]
    ]


async def test_failed_deliveries_are_retried_with_the_same_ids(shopify: ShopifyRig) -> None:
    await shopify.subscribe(["orders/create"])
    shopify.fail_hooks = 2
    await shopify.place()
    await shopify.drain()
    [hook] = shopify.hooks
    async with shopify.http.get(f"{shopify.base_url}/_sandbox/deliveries") as r:
        report = await r.json()
    attempts = report["attempts"]
    assert [a["status"] for a in attempts] == [503, 503, 200]
    assert {a["webhook_id"] for a in attempts} == {hook["headers"]["x-shopify-webhook-id"]}


async def test_duplicate_deliveries_share_webhook_and_event_ids(shopify: ShopifyRig) -> None:
    await shopify.subscribe(["orders/create"])
    async with shopify.http.post(
        f"{shopify.base_url}/_sandbox/faults", json={"webhooks": {"duplicate_rate": 1.0}}
    ):
        pass
    await shopify.place()
    await shopify.drain()
    assert len(shopify.hooks) == 2
    first, second = (h["headers"] for h in shopify.hooks)
    assert first["x-shopify-webhook-id"] == second["x-shopify-webhook-id"]
    assert first["x-shopify-event-id"] == second["x-shopify-event-id"]
    assert first["x-shopify-triggered-at"] == second["x-shopify-triggered-at"]


async def test_webhook_subscriptions_through_the_rest_api(shopify: ShopifyRig) -> None:
    await shopify.subscribe(["orders/updated"])
    async with shopify.http.get(f"{shopify.api}/webhooks.json") as r:
        [webhook] = (await r.json())["webhooks"]
    assert webhook["topic"] == "orders/updated"
    bad = {"webhook": {"topic": "orders/exploded", "address": shopify.hook_url}}
    async with shopify.http.post(f"{shopify.api}/webhooks.json", json=bad) as r:
        assert r.status == 422
    async with shopify.http.delete(f"{shopify.api}/webhooks/{webhook['id']}.json") as r:
        assert r.status == 200
    async with shopify.http.get(f"{shopify.api}/webhooks.json") as r:
        assert (await r.json())["webhooks"] == []


async def test_out_of_order_delivery_on_request(shopify: ShopifyRig) -> None:
    await shopify.subscribe(["orders/create", "orders/cancelled"])
    async with shopify.http.post(
        f"{shopify.base_url}/_sandbox/faults", json={"webhooks": {"reorder_rate": 1.0}}
    ):
        pass
    order = await shopify.place()
    async with shopify.http.delete(f"{shopify.base_url}/_sandbox/faults"):
        pass
    async with shopify.http.post(f"{shopify.api}/orders/{order['id']}/cancel.json", json={}):
        pass
    await shopify.drain()
    assert _topics(shopify) == ["orders/cancelled", "orders/create"]


async def test_a_rotated_secret_signs_the_next_deliveries(shopify: ShopifyRig) -> None:
    await shopify.subscribe(["orders/create"])
    await shopify.place()
    await shopify.drain()
    old_secret = shopify.sim.client_secret
    async with shopify.http.post(
        f"{shopify.base_url}/_sandbox/shopify/client-secret", json={"client_secret": "new-one"}
    ) as r:
        assert r.status == 200
    await shopify.place()
    await shopify.drain()
    first, second = shopify.hooks
    assert _signed(shopify, second)
    assert not _signed(shopify, first)
    assert shopify.sim.client_secret != old_secret
