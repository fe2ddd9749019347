"""The Shopify simulator's Admin REST API on a real loopback port."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp

from crossdock.sandbox.shopify import INVALID_TOKEN, SUPPORTED_VERSIONS

from .conftest import ShopifyRig

ORDER_FIELDS = {
    "id", "admin_graphql_api_id", "name", "order_number", "number", "token",
    "confirmation_number", "total_price", "subtotal_price", "total_tax", "total_discounts",
    "total_line_items_price", "total_outstanding", "current_total_price",
    "current_subtotal_price", "current_total_tax", "currency", "presentment_currency",
    "financial_status", "fulfillment_status", "cancelled_at", "closed_at", "cancel_reason",
    "email", "phone", "customer", "shipping_address", "billing_address", "line_items",
    "discount_codes", "discount_applications", "tax_lines", "taxes_included", "shipping_lines",
    "payment_gateway_names", "note", "note_attributes", "tags", "source_name", "test",
    "created_at", "updated_at", "processed_at", "refunds", "fulfillments",
}  # fmt: skip
LINE_FIELDS = {
    "id", "admin_graphql_api_id", "variant_id", "product_id", "sku", "title", "variant_title",
    "name", "vendor", "quantity", "current_quantity", "fulfillable_quantity",
    "fulfillment_status", "fulfillment_service", "requires_shipping", "taxable", "gift_card",
    "grams", "price", "price_set", "product_exists", "properties", "total_discount", "tax_lines",
    "discount_allocations", "duties",
}  # fmt: skip


def _money(value: str) -> Decimal:
    assert isinstance(value, str), f"money must be a decimal string, got {value!r}"
    return Decimal(value)


async def test_a_wrong_token_gets_shopifys_401(shopify: ShopifyRig) -> None:
    async with (
        aiohttp.ClientSession(headers={"X-Shopify-Access-Token": "shpat_wrong"}) as wrong,
        wrong.get(f"{shopify.api}/orders.json") as response,
    ):
        assert response.status == 401
        assert await response.json() == {"errors": INVALID_TOKEN}


async def test_the_rest_bucket_is_40_leaking_2_per_second(shopify: ShopifyRig) -> None:
    limits, last = [], None
    for _ in range(200):  # the bucket leaks while we call, so a slow machine needs a few more
        async with shopify.http.get(f"{shopify.api}/locations.json") as response:
            limits.append(response.headers["X-Shopify-Shop-Api-Call-Limit"])
            last = response
            body = await response.json()
            if response.status == 429:
                break
    assert limits[0] == "1/40"
    assert len(limits) > 40
    assert limits[-1] == "40/40"
    assert last is not None
    assert last.status == 429
    assert float(last.headers["Retry-After"]) >= 1.0
    assert body["errors"].startswith("Exceeded 2 calls per second for api client.")


async def test_unsupported_version_falls_back_to_the_oldest(shopify: ShopifyRig) -> None:
    async with shopify.http.get(f"{shopify.base_url}/admin/api/2019-01/shop.json") as response:
        assert response.status == 200
        assert response.headers["X-Shopify-API-Version"] == SUPPORTED_VERSIONS[0]


async def test_orders_have_the_real_shape_and_totals_add_up(shopify: ShopifyRig) -> None:
    url = f"{shopify.base_url}/_sandbox/shopify/orders/generate?count=25"
    async with shopify.http.post(url) as response:
        ids = (await response.json())["order_ids"]
    for order_id in ids:
        async with shopify.http.get(f"{shopify.api}/orders/{order_id}.json") as response:
            order = (await response.json())["order"]
        assert set(order) >= ORDER_FIELDS
        assert isinstance(order["id"], int)
        assert order["admin_graphql_api_id"] == f"gid://shopify/Order/{order['id']}"
        for line in order["line_items"]:
            assert set(line) >= LINE_FIELDS
        _assert_totals(order)


def _assert_totals(order: dict[str, Any]) -> None:
    # The totals as placed: lines an order edit added later (their ids come after the
    # order's own id) count only in the current_* totals.
    lines = [ln for ln in order["line_items"] if ln["id"] < order["id"]]
    gross = sum(_money(ln["price"]) * ln["quantity"] for ln in lines)
    allocated = sum(_money(a["amount"]) for ln in lines for a in ln["discount_allocations"])
    shipping = sum(_money(s["price"]) for s in order["shipping_lines"])
    taxes = sum(_money(t["price"]) for ln in lines for t in ln["tax_lines"]) + sum(
        _money(t["price"]) for s in order["shipping_lines"] for t in s["tax_lines"]
    )
    assert _money(order["total_line_items_price"]) == gross
    assert _money(order["total_discounts"]) == allocated
    assert _money(order["subtotal_price"]) == gross - allocated
    assert _money(order["total_tax"]) == taxes
    assert sum(_money(t["price"]) for t in order["tax_lines"]) == taxes
    expected = gross - allocated + shipping + (0 if order["taxes_included"] else taxes)
    assert _money(order["total_price"]) == expected
    shop = order["total_price_set"]["shop_money"]
    assert (shop["amount"], shop["currency_code"]) == (order["total_price"], order["currency"])
    presentment = order["total_price_set"]["presentment_money"]["currency_code"]
    assert presentment == order["presentment_currency"]


async def test_a_storefront_order_with_everything(shopify: ShopifyRig) -> None:
    order = await shopify.place(
        {
            "line_items": [
                {"sku": "MUG-RED", "quantity": 3},
                {"title": "Gravure", "price": "7.50"},
                {"sku": "BAG-20L", "quantity": 1},
            ],
            "discount": {"code": "SPRING5", "type": "fixed_amount", "value": "5.00"},
            "tax": {"title": "TVA", "rate": "0.2"},
            "shipping": {"title": "Colissimo", "price": "4.90"},
            "gift_card_payment": "25.00",
            "shipping_address": {"name": "Łukasz Wróbel", "city": "Kraków", "country_code": "PL"},
        }
    )
    custom = order["line_items"][1]
    assert (custom["variant_id"], custom["product_id"], custom["product_exists"]) == (
        None,
        None,
        False,
    )
    assert order["discount_codes"] == [
        {"code": "SPRING5", "amount": "5.00", "type": "fixed_amount"}
    ]
    assert order["payment_gateway_names"] == ["gift_card", "shopify_payments"]
    assert order["tax_lines"][0]["rate"] == 0.2
    _assert_totals(order)
    # 3 x 14.90 + 7.50 + 89.00 = 141.20; - 5.00; tax 20 % of 136.20 + 20 % of 4.90.
    assert order["total_price"] == "169.32"


async def test_orders_list_paginates_with_link_cursors_and_filters(shopify: ShopifyRig) -> None:
    placed = [(await shopify.place())["id"] for _ in range(5)]
    seen, url = [], f"{shopify.api}/orders.json?status=any&limit=2"
    while url:
        async with shopify.http.get(url) as response:
            seen += [o["id"] for o in (await response.json())["orders"]]
            links = response.headers.get("Link", "")
        nxt = [p for p in links.split(", ") if p.endswith('rel="next"')]
        url = nxt[0][1 : nxt[0].index(">")] if nxt else ""
    assert seen == sorted(placed)
    future = "2999-01-01T00:00:00Z"
    async with shopify.http.get(f"{shopify.api}/orders.json?updated_at_min={future}") as response:
        assert (await response.json())["orders"] == []
    async with shopify.http.get(f"{shopify.api}/orders.json?page_info=abc&status=any") as response:
        assert response.status == 400
    async with shopify.http.get(f"{shopify.api}/orders/count.json?status=any") as response:
        assert (await response.json())["count"] == 5


async def test_unknown_order_is_shopifys_404(shopify: ShopifyRig) -> None:
    async with shopify.http.get(f"{shopify.api}/orders/1.json") as response:
        assert response.status == 404
        assert await response.json() == {"errors": "Not Found"}


async def test_inventory_set_and_adjust(shopify: ShopifyRig) -> None:
    variant = next(v for v in shopify.sim.state.variants.values() if v["sku"] == "MUG-BLU")
    item = variant["inventory_item_id"]
    location = next(iter(shopify.sim.state.locations))
    body = {"inventory_item_id": item, "location_id": location, "available": 7}
    async with shopify.http.post(f"{shopify.api}/inventory_levels/set.json", json=body) as r:
        level = (await r.json())["inventory_level"]
    assert level["available"] == 7
    assert level["admin_graphql_api_id"] == (
        f"gid://shopify/InventoryLevel/{location}?inventory_item_id={item}"
    )
    body = {"inventory_item_id": item, "location_id": location, "available_adjustment": -2}
    async with shopify.http.post(f"{shopify.api}/inventory_levels/adjust.json", json=body) as r:
        assert (await r.json())["inventory_level"]["available"] == 5
    query = f"{shopify.api}/inventory_levels.json?inventory_item_ids={item}"
    async with shopify.http.get(query) as r:
        assert [lv["available"] for lv in (await r.json())["inventory_levels"]] == [5]
    async with shopify.http.post(
        f"{shopify.api}/inventory_levels/set.json", json={"location_id": location}
    ) as r:
        assert r.status == 400


async def test_fulfilment_from_fulfilment_orders_with_tracking(shopify: ShopifyRig) -> None:
    order = await shopify.place({"line_items": [{"sku": "MUG-RED", "quantity": 3}]})
    async with shopify.http.get(f"{shopify.api}/orders/{order['id']}/fulfillment_orders.json") as r:
        [fo] = (await r.json())["fulfillment_orders"]
    line = fo["line_items"][0]

    async def fulfil(quantity: int, number: str) -> aiohttp.ClientResponse:
        body = {
            "fulfillment": {
                "line_items_by_fulfillment_order": [
                    {
                        "fulfillment_order_id": fo["id"],
                        "fulfillment_order_line_items": [{"id": line["id"], "quantity": quantity}],
                    }
                ],
                "tracking_info": {"number": number, "company": "UPS"},
                "notify_customer": False,
            }
        }
        async with shopify.http.post(f"{shopify.api}/fulfillments.json", json=body) as r:
            await r.read()
            return r

    first = await fulfil(2, "1Z999AA10123456784")
    assert first.status == 201
    assert shopify.sim.state.order(order["id"])["fulfillment_status"] == "partial"
    assert (await fulfil(2, "1Z999AA10123456785")).status == 422
    assert (await fulfil(1, "1Z999AA10123456786")).status == 201
    async with shopify.http.get(f"{shopify.api}/orders/{order['id']}.json") as r:
        fetched = (await r.json())["order"]
    assert fetched["fulfillment_status"] == "fulfilled"
    assert [f["tracking_number"] for f in fetched["fulfillments"]] == [
        "1Z999AA10123456784",
        "1Z999AA10123456786",
    ]
    assert fetched["fulfillments"][0]["tracking_url"].startswith("https://www.ups.com/")
    async with shopify.http.get(f"{shopify.base_url}/_sandbox/effects?kind=fulfillment") as r:
        effect = (await r.json())["effects"]["fulfillment"][str(order["id"])]
    assert (effect["attempts"], effect["created"], effect["duplicates_refused"]) == (3, 2, 1)


async def test_partial_refund_with_restock(shopify: ShopifyRig) -> None:
    order = await shopify.place(
        {
            "line_items": [{"sku": "MUG-RED", "quantity": 2}],
            "tax": {"title": "TVA", "rate": "0.2"},
        }
    )
    line = order["line_items"][0]
    item = shopify.sim.state.variants[line["variant_id"]]["inventory_item_id"]
    location = next(iter(shopify.sim.state.locations))
    before = shopify.sim.state.quantity(item, location)
    body = {
        "refund": {
            "note": "Tasse cassée",
            "refund_line_items": [
                {
                    "line_item_id": line["id"],
                    "quantity": 1,
                    "restock_type": "return",
                    "location_id": location,
                }
            ],
        }
    }
    async with shopify.http.post(
        f"{shopify.api}/orders/{order['id']}/refunds.json", json=body
    ) as r:
        assert r.status == 201
        refund = (await r.json())["refund"]
    [refund_line] = refund["refund_line_items"]
    assert refund_line["subtotal"] == 14.9  # a JSON number, as real refunds carry
    assert refund_line["subtotal_set"]["shop_money"]["amount"] == "14.90"
    assert refund["transactions"][0]["amount"] == "17.88"
    assert shopify.sim.state.quantity(item, location) == before + 1
    updated = shopify.sim.state.order(order["id"])
    assert updated["financial_status"] == "partially_refunded"
    assert updated["current_total_price"] == "17.88"
    too_many = {"refund": {"refund_line_items": [{"line_item_id": line["id"], "quantity": 5}]}}
    async with shopify.http.post(
        f"{shopify.api}/orders/{order['id']}/refunds.json", json=too_many
    ) as r:
        assert r.status == 422


async def test_cancel_once_then_refused(shopify: ShopifyRig) -> None:
    order = await shopify.place()
    url = f"{shopify.api}/orders/{order['id']}/cancel.json"
    async with shopify.http.post(url, json={"reason": "customer", "restock": True}) as r:
        assert r.status == 200
        cancelled = (await r.json())["order"]
    assert cancelled["cancel_reason"] == "customer"
    assert cancelled["cancelled_at"] is not None
    async with shopify.http.post(url, json={"reason": "customer"}) as r:
        assert r.status == 422
    async with shopify.http.get(f"{shopify.base_url}/_sandbox/effects?kind=cancel") as r:
        effect = (await r.json())["effects"]["cancel"][str(order["id"])]
    assert (effect["created"], effect["duplicates_refused"]) == (1, 1)


async def test_variant_price_update(shopify: ShopifyRig) -> None:
    variant = next(v for v in shopify.sim.state.variants.values() if v["sku"] == "MUG-RED")
    url = f"{shopify.api}/variants/{variant['id']}.json"
    async with shopify.http.put(url, json={"variant": {"price": "15.5"}}) as r:
        assert (await r.json())["variant"]["price"] == "15.50"
    async with shopify.http.put(url, json={"variant": {"price": "-1"}}) as r:
        assert r.status == 422
    async with shopify.http.put(url, data=b"{nope") as r:
        assert r.status == 400


async def test_checkout_refuses_to_oversell(shopify: ShopifyRig) -> None:
    spec = {"line_items": [{"sku": "TOWEL-TKY", "quantity": 1}]}
    async with shopify.http.post(f"{shopify.base_url}/_sandbox/shopify/orders", json=spec) as r:
        assert r.status == 422
        assert "not enough stock" in (await r.text())


async def test_traffic_is_repeatable_and_has_follow_ups() -> None:
    from crossdock.sandbox.shopify import ShopifySimulator

    runs = []
    for _ in range(2):
        sim = ShopifySimulator(seed=3)
        report = sim.generate_traffic(40)
        orders = [sim.state.order(i) for i in report["order_ids"]]
        runs.append([(o["total_price"], o["financial_status"], o["cancel_reason"]) for o in orders])
        for order in orders:
            _assert_totals(order)
    assert runs[0] == runs[1]
    statuses = {status for _, status, _ in runs[0]}
    assert "paid" in statuses
    assert statuses & {"partially_refunded", "refunded"}
    assert any(reason is not None for _, _, reason in runs[0])
    currencies = {o["presentment_currency"] for o in orders}
    assert len(currencies) > 1


async def test_a_refused_refund_changes_nothing(shopify: ShopifyRig) -> None:
    order = await shopify.place({"line_items": [{"sku": "MUG-RED", "quantity": 2}]})
    line = order["line_items"][0]
    item = shopify.sim.state.variants[line["variant_id"]]["inventory_item_id"]
    location = next(iter(shopify.sim.state.locations))
    stock = shopify.sim.state.quantity(item, location)
    body = {
        "refund": {
            "refund_line_items": [
                {"line_item_id": line["id"], "quantity": 1, "restock_type": "return"},
                {"line_item_id": line["id"], "quantity": 2, "restock_type": "return"},
            ]
        }
    }
    async with shopify.http.post(
        f"{shopify.api}/orders/{order['id']}/refunds.json", json=body
    ) as r:
        assert r.status == 422
    after = shopify.sim.state.order(order["id"])
    assert after["line_items"][0]["current_quantity"] == 2
    assert after["refunds"] == []
    assert shopify.sim.state.quantity(item, location) == stock
    effect = shopify.sim.effects.get("refund", str(order["id"]))
    assert (effect.attempts, effect.created, effect.duplicates_refused) == (1, 0, 1)


async def test_calculate_then_refund_with_the_suggested_transactions(shopify: ShopifyRig) -> None:
    order = await shopify.place(
        {"line_items": [{"sku": "BAG-20L", "quantity": 1}], "gift_card_payment": "10.00"}
    )
    line = order["line_items"][0]
    ask = {"refund": {"refund_line_items": [{"line_item_id": line["id"], "quantity": 1}]}}
    url = f"{shopify.api}/orders/{order['id']}/refunds"
    async with shopify.http.post(f"{url}/calculate.json", json=ask) as r:
        suggested = (await r.json())["refund"]["transactions"]
    assert [(t["gateway"], t["amount"], t["kind"]) for t in suggested] == [
        ("shopify_payments", "79.00", "suggested_refund"),
        ("gift_card", "10.00", "suggested_refund"),
    ]
    assert shopify.sim.state.order(order["id"])["refunds"] == []  # calculating changes nothing
    transactions = [
        {
            "parent_id": t["parent_id"],
            "amount": t["amount"],
            "kind": "refund",
            "gateway": t["gateway"],
        }
        for t in suggested
    ]
    ask["refund"]["transactions"] = transactions
    async with shopify.http.post(f"{url}.json", json=ask) as r:
        assert r.status == 201
    async with shopify.http.get(f"{shopify.api}/orders/{order['id']}/transactions.json") as r:
        kinds = [(t["kind"], t["amount"]) for t in (await r.json())["transactions"]]
    assert kinds == [("sale", "10.00"), ("sale", "79.00"), ("refund", "79.00"), ("refund", "10.00")]
    assert shopify.sim.state.order(order["id"])["financial_status"] == "refunded"


async def test_updated_at_window_with_offsets_in_the_query(shopify: ShopifyRig) -> None:
    order = await shopify.place()
    params = {
        "updated_at_min": "2000-01-01T00:00:00+00:00",
        "updated_at_max": "2999-01-01T00:00:00+00:00",
        "status": "any",
    }
    async with shopify.http.get(f"{shopify.api}/orders.json", params=params) as r:
        assert [o["id"] for o in (await r.json())["orders"]] == [order["id"]]
    raw_plus = f"{shopify.api}/orders.json?status=any&updated_at_min=2000-01-01T00:00:00+00:00"
    async with shopify.http.get(raw_plus) as r:
        assert r.status == 200
        assert len((await r.json())["orders"]) == 1
