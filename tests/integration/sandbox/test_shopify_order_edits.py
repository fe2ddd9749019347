"""The Shopify simulator's order editing (GraphQL), order updates (REST) and refundCreate."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .conftest import ShopifyRig

BEGIN = """
mutation Begin($id: ID!) {
  orderEditBegin(id: $id) {
    calculatedOrder { id lineItems(first: 10) { nodes { id quantity sku } } }
    userErrors { field message }
  }
}
"""
SET_QUANTITY = """
mutation SetQuantity($id: ID!, $lineItemId: ID!, $quantity: Int!) {
  orderEditSetQuantity(id: $id, lineItemId: $lineItemId, quantity: $quantity, restock: true) {
    calculatedLineItem { id quantity }
    calculatedOrder { totalPriceSet { shopMoney { amount currencyCode } } }
    userErrors { field message }
  }
}
"""
ADD_VARIANT = """
mutation AddVariant($id: ID!, $variantId: ID!, $quantity: Int!) {
  orderEditAddVariant(id: $id, variantId: $variantId, quantity: $quantity) {
    calculatedLineItem { id quantity sku }
    userErrors { field message }
  }
}
"""
COMMIT = """
mutation Commit($id: ID!) {
  orderEditCommit(id: $id, notifyCustomer: false, staffNote: "Client a changé d'avis") {
    order { id currentTotalPriceSet { shopMoney { amount } } }
    userErrors { field message }
  }
}
"""
REFUND = """
mutation Refund($input: RefundInput!, $key: String!) {
  refundCreate(input: $input) @idempotent(key: $key) {
    refund { id legacyResourceId totalRefundedSet { shopMoney { amount currencyCode } } }
    userErrors { field message }
  }
}
"""
REFUND_WITHOUT_KEY = """
mutation Refund($input: RefundInput!) {
  refundCreate(input: $input) { refund { id } userErrors { field message } }
}
"""


def _variant(rig: ShopifyRig, sku: str) -> dict[str, Any]:
    return dict(next(v for v in rig.sim.state.variants.values() if v["sku"] == sku))


def _stock(rig: ShopifyRig, sku: str) -> int:
    item = _variant(rig, sku)["inventory_item_id"]
    return int(rig.sim.state.quantity(item, next(iter(rig.sim.state.locations))))


async def test_an_order_edit_lowers_a_line_adds_another_and_moves_current_totals(
    shopify: ShopifyRig,
) -> None:
    await shopify.subscribe(["orders/updated"])
    order = await shopify.place(
        {
            "line_items": [{"sku": "MUG-RED", "quantity": 3}, {"sku": "BAG-20L", "quantity": 1}],
            "tax": {"title": "TVA", "rate": "0.2"},
        }
    )
    mug, bag = order["line_items"]
    mug_stock, blue_stock = _stock(shopify, "MUG-RED"), _stock(shopify, "MUG-BLU")

    begun = (await shopify.gql(BEGIN, {"id": order["admin_graphql_api_id"]}))["data"]
    calculated = begun["orderEditBegin"]["calculatedOrder"]
    assert [n["quantity"] for n in calculated["lineItems"]["nodes"]] == [3, 1]
    session = calculated["id"]
    mug_gid = f"gid://shopify/CalculatedLineItem/{mug['id']}"
    staged = await shopify.gql(SET_QUANTITY, {"id": session, "lineItemId": mug_gid, "quantity": 1})
    payload = staged["data"]["orderEditSetQuantity"]
    assert payload["userErrors"] == []
    assert payload["calculatedLineItem"]["quantity"] == 1
    # (3 x 14.90 + 89.00) x 1.2 = 160.44; 2 mugs off (29.80 + 5.96 tax) -> 124.68
    assert payload["calculatedOrder"]["totalPriceSet"]["shopMoney"]["amount"] == "124.68"
    blue = _variant(shopify, "MUG-BLU")
    added = await shopify.gql(
        ADD_VARIANT, {"id": session, "variantId": blue["admin_graphql_api_id"], "quantity": 1}
    )
    assert added["data"]["orderEditAddVariant"]["calculatedLineItem"]["sku"] == "MUG-BLU"
    assert shopify.sim.state.order(order["id"])["current_total_price"] == order["total_price"]

    committed = (await shopify.gql(COMMIT, {"id": session}))["data"]["orderEditCommit"]
    assert committed["userErrors"] == []
    assert committed["order"]["currentTotalPriceSet"]["shopMoney"]["amount"] == "142.56"

    edited = shopify.sim.state.order(order["id"])
    assert edited["total_price"] == order["total_price"]  # the order as placed stays
    assert edited["current_total_price"] == "142.56"  # 124.68 + 14.90 x 1.2
    assert edited["current_total_price_set"]["shop_money"]["amount"] == "142.56"
    assert edited["current_subtotal_price"] == "118.80"  # 14.90 + 89.00 + 14.90
    assert edited["current_total_tax"] == "23.76"
    lines = {ln["sku"]: ln for ln in edited["line_items"]}
    assert (lines["MUG-RED"]["quantity"], lines["MUG-RED"]["current_quantity"]) == (3, 1)
    assert lines["MUG-RED"]["fulfillable_quantity"] == 1
    assert (lines["MUG-BLU"]["quantity"], lines["MUG-BLU"]["current_quantity"]) == (1, 1)
    assert lines["BAG-20L"]["current_quantity"] == bag["quantity"]
    assert edited["updated_at"] >= order["updated_at"]
    [removal] = edited["refunds"]
    assert removal["transactions"] == []
    [removed] = removal["refund_line_items"]
    assert (removed["line_item_id"], removed["quantity"], removed["restock_type"]) == (
        mug["id"],
        2,
        "cancel",
    )
    assert removed["subtotal_set"]["shop_money"]["amount"] == "29.80"
    assert (_stock(shopify, "MUG-RED"), _stock(shopify, "MUG-BLU")) == (
        mug_stock + 2,
        blue_stock - 1,
    )
    fo = shopify.sim.state.fulfillment_orders_of(order["id"])[0]
    assert {ln["line_item_id"]: ln["quantity"] for ln in fo["line_items"]} == {
        mug["id"]: 1,
        bag["id"]: 1,
        lines["MUG-BLU"]["id"]: 1,
    }
    await shopify.drain()
    updates = [
        h["body"] for h in shopify.hooks if h["headers"]["x-shopify-topic"] == "orders/updated"
    ]
    assert updates[-1]["current_total_price"] == "142.56"

    again = await shopify.gql(COMMIT, {"id": session})
    assert again["data"]["orderEditCommit"]["userErrors"][0]["field"] == ["id"]


async def test_an_edit_cannot_take_off_fulfilled_units(shopify: ShopifyRig) -> None:
    order = await shopify.place({"line_items": [{"sku": "MUG-RED", "quantity": 2}]})
    [fo] = shopify.sim.state.fulfillment_orders_of(order["id"])
    shopify.sim.state.create_fulfillment(
        {
            "line_items_by_fulfillment_order": [
                {
                    "fulfillment_order_id": fo["id"],
                    "fulfillment_order_line_items": [
                        {"id": fo["line_items"][0]["id"], "quantity": 1}
                    ],
                }
            ]
        }
    )
    begun = await shopify.gql(BEGIN, {"id": order["admin_graphql_api_id"]})
    session = begun["data"]["orderEditBegin"]["calculatedOrder"]["id"]
    line = f"gid://shopify/CalculatedLineItem/{order['line_items'][0]['id']}"
    refused = await shopify.gql(SET_QUANTITY, {"id": session, "lineItemId": line, "quantity": 0})
    assert refused["data"]["orderEditSetQuantity"]["userErrors"][0]["field"] == ["quantity"]
    nothing = await shopify.gql(COMMIT, {"id": session})
    assert nothing["data"]["orderEditCommit"]["userErrors"]
    assert shopify.sim.state.order(order["id"])["current_total_price"] == order["total_price"]


async def test_the_shipping_address_is_updated_by_rest(shopify: ShopifyRig) -> None:
    await shopify.subscribe(["orders/updated"])
    order = await shopify.place()
    body = {
        "order": {
            "id": order["id"],
            "shipping_address": {"address1": "Øvre gate 7", "city": "Bergen"},
        }
    }
    async with shopify.http.put(f"{shopify.api}/orders/{order['id']}.json", json=body) as r:
        assert r.status == 200, await r.text()
        updated = (await r.json())["order"]
    assert updated["shipping_address"]["address1"] == "Øvre gate 7"
    assert updated["shipping_address"]["city"] == "Bergen"
    assert updated["total_price"] == order["total_price"]
    bad = {"order": {"total_price": "0.00"}}
    async with shopify.http.put(f"{shopify.api}/orders/{order['id']}.json", json=bad) as r:
        assert r.status == 422
    await shopify.drain()
    [hook] = [h for h in shopify.hooks if h["headers"]["x-shopify-topic"] == "orders/updated"]
    assert hook["body"]["shipping_address"]["city"] == "Bergen"


def _refund_input(order: dict[str, Any], quantity: int = 1) -> dict[str, Any]:
    line = order["line_items"][0]
    return {
        "orderId": order["admin_graphql_api_id"],
        "note": "Tasse fêlée",
        "refundLineItems": [
            {
                "lineItemId": line["admin_graphql_api_id"],
                "quantity": quantity,
                "restockType": "CANCEL",
            }
        ],
        "transactions": [
            {
                "orderId": order["admin_graphql_api_id"],
                "gateway": "shopify_payments",
                "kind": "REFUND",
                "amount": str(Decimal(line["price"]) * quantity),
            }
        ],
    }


async def test_refund_create_replays_a_key_and_refuses_it_with_other_parameters(
    shopify: ShopifyRig,
) -> None:
    order = await shopify.place({"line_items": [{"sku": "MUG-RED", "quantity": 3}]})
    variables = {"input": _refund_input(order), "key": "3f1c1b8e-refund-1"}
    first = (await shopify.gql(REFUND, variables))["data"]["refundCreate"]
    again = (await shopify.gql(REFUND, variables))["data"]["refundCreate"]
    assert first["userErrors"] == []
    assert again == first
    assert first["refund"]["totalRefundedSet"]["shopMoney"] == {
        "amount": "14.90",
        "currencyCode": "EUR",
    }
    assert len(shopify.sim.state.order(order["id"])["refunds"]) == 1
    effect = shopify.sim.effects.get("refund", str(order["id"]))
    assert (effect.created, effect.duplicates_absorbed) == (1, 1)

    other = {"input": _refund_input(order, quantity=2), "key": "3f1c1b8e-refund-1"}
    mismatch = await shopify.gql(REFUND, other)
    assert mismatch["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"
    assert len(shopify.sim.state.order(order["id"])["refunds"]) == 1


async def test_refund_create_needs_the_key_from_2026_04(shopify: ShopifyRig) -> None:
    order = await shopify.place({"line_items": [{"sku": "MUG-RED", "quantity": 2}]})
    variables = {"input": _refund_input(order)}
    strict = await shopify.gql(REFUND_WITHOUT_KEY, variables, version="2026-04")
    assert "@idempotent" in strict["errors"][0]["message"]
    assert shopify.sim.state.order(order["id"])["refunds"] == []
    optional = await shopify.gql(REFUND_WITHOUT_KEY, variables, version="2026-01")
    assert optional["data"]["refundCreate"]["userErrors"] == []
    assert len(shopify.sim.state.order(order["id"])["refunds"]) == 1
    too_much = {"input": _refund_input(order, quantity=5), "key": "k-too-much"}
    refused = (await shopify.gql(REFUND, too_much))["data"]["refundCreate"]
    assert refused["refund"] is None
    assert refused["userErrors"]


async def test_the_merchant_edit_helper_and_generated_edits(shopify: ShopifyRig) -> None:
    order = await shopify.place({"line_items": [{"sku": "MUG-RED", "quantity": 2}]})
    line = order["line_items"][0]
    url = f"{shopify.base_url}/_sandbox/shopify/orders/{order['id']}/edit"
    async with shopify.http.post(url, json={"quantities": {str(line["id"]): 1}}) as r:
        assert r.status == 200, await r.text()
        edited = (await r.json())["order"]
    assert edited["line_items"][0]["current_quantity"] == 1
    assert Decimal(edited["current_total_price"]) < Decimal(edited["total_price"])
    async with shopify.http.post(url, json={"quantities": {str(line["id"]): 5}}) as r:
        assert r.status == 422
    async with shopify.http.post(url, json={"quantities": {"x": 1}}) as r:
        assert r.status == 400

    generate = f"{shopify.base_url}/_sandbox/shopify/orders/generate?count=30"
    async with shopify.http.post(generate) as r:
        report = await r.json()
    assert report["edited"]
    assert set(report["edited"]) <= set(report["order_ids"])
    changed = [shopify.sim.state.order(i) for i in report["edited"]]
    assert any(o["current_total_price"] != o["total_price"] for o in changed)
