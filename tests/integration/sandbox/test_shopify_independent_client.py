"""An independent, widely used client (the ShopifyAPI package) works unchanged, over HTTPS."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import shopify  # ShopifyAPI, a dev dependency: Shopify's own Python client

from crossdock.sandbox.kit import LocalCA, serve
from crossdock.sandbox.shopify import ShopifySimulator


def _use_the_library(port: int, token: str, item_id: int) -> dict[str, Any]:
    # The library always builds https://<shop>.<myshopify_domain>:<port>; "127" + "0.0.1".
    shopify.Session.setup(myshopify_domain="0.0.1", port=port)
    try:
        session = shopify.Session("127.0.0.1", "2026-10", token)
        shopify.ShopifyResource.activate_session(session)
        locations = shopify.Location.find()
        level = shopify.InventoryLevel.set(locations[0].id, item_id, 33)
        orders = shopify.Order.find(status="any")
        graphql = shopify.GraphQL().execute("{ shop { currencyCode } }")
        return {
            "shop": shopify.Shop.current().name,
            "locations": [loc.name for loc in locations],
            "available": level.available,
            "order_totals": [o.total_price for o in orders],
            "graphql": graphql,
        }
    finally:
        shopify.ShopifyResource.clear_session()
        shopify.Session.setup(myshopify_domain="myshopify.com", port=None)


async def test_shopifyapi_library_against_the_https_simulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = LocalCA.load_or_create(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.ca_cert))  # the library trusts the default store
    sim = ShopifySimulator()
    order, _ = sim.state.create_order({"line_items": [{"sku": "MUG-RED", "quantity": 1}]})
    item_id = next(iter(sim.state.variants.values()))["inventory_item_id"]
    async with serve(sim.app, tls=ca) as server:
        seen = await asyncio.to_thread(_use_the_library, server.port, sim.access_token, item_id)
    assert seen["shop"] == "Crossdock Sandbox"
    assert seen["locations"] == ["Entrepôt Lyon", "Lager München"]
    assert seen["available"] == 33
    assert seen["order_totals"] == [order["total_price"]]
    assert '"currencyCode":"EUR"' in seen["graphql"]
