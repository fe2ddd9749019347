"""The Shopify simulator's GraphQL Admin API: compare-and-set, idempotency, cost throttling."""

from __future__ import annotations

from typing import Any

from .conftest import ShopifyRig

SET = """
mutation Set($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup {
      reason referenceDocumentUri changes { name delta quantityAfterChange }
    }
    userErrors { code field message }
  }
}
"""
SET_WITHOUT_KEY = """
mutation Set($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}
"""
READ = """
query Read($item: ID!, $location: ID!) {
  inventoryItem(id: $item) {
    sku
    inventoryLevel(locationId: $location) {
      quantities(names: ["available", "on_hand"]) { name quantity }
    }
  }
}
"""


def _target(rig: ShopifyRig, sku: str = "MUG-RED") -> tuple[str, str, int]:
    state = rig.sim.state
    variant = next(v for v in state.variants.values() if v["sku"] == sku)
    location = next(iter(state.locations))
    item = variant["inventory_item_id"]
    return (
        f"gid://shopify/InventoryItem/{item}",
        f"gid://shopify/Location/{location}",
        state.quantity(item, location),
    )


def _input(item: str, location: str, quantity: int, change_from: int | None) -> dict[str, Any]:
    return {
        "name": "available",
        "reason": "correction",
        "referenceDocumentUri": "gid://crossdock/Command/42",
        "quantities": [
            {
                "inventoryItemId": item,
                "locationId": location,
                "quantity": quantity,
                "changeFromQuantity": change_from,
            }
        ],
    }


async def test_compare_and_set_then_idempotent_replay(shopify: ShopifyRig) -> None:
    item, location, current = _target(shopify)
    variables = {"input": _input(item, location, current - 10, current), "key": "cmd-1"}
    first = await shopify.gql(SET, variables)
    payload = first["data"]["inventorySetQuantities"]
    assert payload["userErrors"] == []
    assert payload["inventoryAdjustmentGroup"]["changes"][0] == {
        "name": "available",
        "delta": -10,
        "quantityAfterChange": current - 10,
    }
    cost = first["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 10
    assert set(cost["throttleStatus"]) == {"maximumAvailable", "currentlyAvailable", "restoreRate"}
    replay = await shopify.gql(SET, variables)
    assert replay["data"] == first["data"]
    read = await shopify.gql(READ, {"item": item, "location": location})
    quantities = read["data"]["inventoryItem"]["inventoryLevel"]["quantities"]
    assert {q["name"]: q["quantity"] for q in quantities}["available"] == current - 10
    key = f"{item.rsplit('/', 1)[1]}@{location.rsplit('/', 1)[1]}"
    effect = shopify.sim.effects.get("inventory", key)
    assert (effect.attempts, effect.created, effect.duplicates_absorbed) == (2, 1, 1)


async def test_a_stale_compare_changes_nothing(shopify: ShopifyRig) -> None:
    item, location, current = _target(shopify)
    variables = {"input": _input(item, location, 1, current + 3), "key": "cmd-stale"}
    payload = (await shopify.gql(SET, variables))["data"]["inventorySetQuantities"]
    assert payload["inventoryAdjustmentGroup"] is None
    [error] = payload["userErrors"]
    assert error["code"] == "CHANGE_FROM_QUANTITY_STALE"
    assert error["field"] == ["input", "quantities", "0", "changeFromQuantity"]
    assert _target(shopify)[2] == current


async def test_null_change_from_opts_out_of_the_compare(shopify: ShopifyRig) -> None:
    item, location, _ = _target(shopify)
    variables = {"input": _input(item, location, 77, None), "key": "cmd-null"}
    payload = (await shopify.gql(SET, variables))["data"]["inventorySetQuantities"]
    assert payload["userErrors"] == []
    assert _target(shopify)[2] == 77


async def test_key_reused_with_other_parameters_is_a_mismatch(shopify: ShopifyRig) -> None:
    item, location, current = _target(shopify)
    await shopify.gql(SET, {"input": _input(item, location, 5, current), "key": "cmd-x"})
    other = await shopify.gql(SET, {"input": _input(item, location, 6, 5), "key": "cmd-x"})
    codes = [e["code"] for e in other["data"]["inventorySetQuantities"]["userErrors"]]
    assert codes == ["IDEMPOTENCY_KEY_PARAMETER_MISMATCH"]


async def test_idempotent_directive_and_change_from_are_mandatory_from_2026_04(
    shopify: ShopifyRig,
) -> None:
    item, location, current = _target(shopify)
    no_key = await shopify.gql(SET_WITHOUT_KEY, {"input": _input(item, location, 3, current)})
    assert no_key["data"] == {"inventorySetQuantities": None}
    assert "@idempotent" in no_key["errors"][0]["message"]
    bare = _input(item, location, 3, current)
    del bare["quantities"][0]["changeFromQuantity"]
    missing = await shopify.gql(SET, {"input": bare, "key": "cmd-m"})
    assert "changeFromQuantity" in missing["errors"][0]["message"]
    assert _target(shopify)[2] == current


async def test_2026_01_accepts_the_old_compare_fields(shopify: ShopifyRig) -> None:
    item, location, current = _target(shopify)
    old = {
        "name": "available",
        "reason": "correction",
        "ignoreCompareQuantity": False,
        "quantities": [
            {"inventoryItemId": item, "locationId": location, "quantity": 4, "compareQuantity": 0}
        ],
    }
    stale = await shopify.gql(SET_WITHOUT_KEY, {"input": old}, version="2026-01")
    codes = [e["code"] for e in stale["data"]["inventorySetQuantities"]["userErrors"]]
    assert codes == (["COMPARE_QUANTITY_STALE"] if current != 0 else [])
    removed = await shopify.gql(SET_WITHOUT_KEY, {"input": old}, version="2026-04")
    assert "data" not in removed
    assert "compareQuantity" in removed["errors"][0]["message"]


async def test_unknown_item_and_location_are_user_errors(shopify: ShopifyRig) -> None:
    _, location, _ = _target(shopify)
    bad = _input("gid://shopify/InventoryItem/1", location, 1, None)
    bad["quantities"].append(
        {
            "inventoryItemId": _target(shopify)[0],
            "locationId": "gid://shopify/Location/2",
            "quantity": 1,
            "changeFromQuantity": None,
        }
    )
    bad["name"] = "incoming"
    payload = (await shopify.gql(SET, {"input": bad, "key": "cmd-bad"}))["data"]
    codes = [e["code"] for e in payload["inventorySetQuantities"]["userErrors"]]
    assert codes == ["INVALID_NAME", "INVALID_INVENTORY_ITEM", "INVALID_LOCATION"]


async def test_syntax_and_schema_errors_come_back_as_graphql_errors(shopify: ShopifyRig) -> None:
    broken = await shopify.gql("query { shop { name ")
    assert "Syntax Error" in broken["errors"][0]["message"]
    unknown = await shopify.gql("query { shop { nom } }")
    assert "Cannot query field 'nom'" in unknown["errors"][0]["message"]


async def test_throttled_requests_get_shopifys_body(shopify: ShopifyRig) -> None:
    async with shopify.http.post(
        f"{shopify.base_url}/_sandbox/faults", json={"throttle_factor": 0.002}
    ) as r:
        assert r.status == 200
    item, location, current = _target(shopify)
    body = await shopify.gql(SET, {"input": _input(item, location, 1, current), "key": "cmd-t"})
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["errors"][0]["message"] == "Throttled"
    assert body["extensions"]["cost"]["actualQueryCost"] is None
    assert _target(shopify)[2] == current


async def test_orders_query_for_backfill(shopify: ShopifyRig) -> None:
    placed = [(await shopify.place())["id"] for _ in range(3)]
    query = """
    query Backfill($after: String) {
      orders(first: 2, after: $after, query: "updated_at:>='2000-01-01T00:00:00Z'") {
        edges {
          cursor
          node { legacyResourceId name updatedAt totalPriceSet { shopMoney { amount } } }
        }
        pageInfo { hasNextPage endCursor }
      }
    }
    """
    seen: list[int] = []
    after = None
    while True:
        data = (await shopify.gql(query, {"after": after}))["data"]["orders"]
        seen += [int(e["node"]["legacyResourceId"]) for e in data["edges"]]
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    assert seen == sorted(placed)
    empty = await shopify.gql(
        'query { orders(first: 5, query: "updated_at:>2999-01-01") { nodes { id } } }'
    )
    assert empty["data"]["orders"]["nodes"] == []


async def test_fulfillment_create_with_several_tracking_numbers(shopify: ShopifyRig) -> None:
    order = await shopify.place({"line_items": [{"sku": "MUG-BLU", "quantity": 2}]})
    query = """
    query($id: ID!) { order(id: $id) { fulfillmentOrders(first: 5) { nodes { id status
        lineItems(first: 10) { nodes { id remainingQuantity } } } } } }
    """
    data = await shopify.gql(query, {"id": order["admin_graphql_api_id"]})
    [fo] = data["data"]["order"]["fulfillmentOrders"]["nodes"]
    assert fo["status"] == "OPEN"
    mutation = """
    mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) {
        fulfillment { status trackingInfo { number company } } userErrors { field message } } }
    """
    variables = {
        "f": {
            "lineItemsByFulfillmentOrder": [
                {
                    "fulfillmentOrderId": fo["id"],
                    "fulfillmentOrderLineItems": [
                        {"id": fo["lineItems"]["nodes"][0]["id"], "quantity": 2}
                    ],
                }
            ],
            "trackingInfo": {"numbers": ["TRK1", "TRK2"], "company": "DHL Express"},
        }
    }
    made = (await shopify.gql(mutation, variables))["data"]["fulfillmentCreate"]
    assert made["userErrors"] == []
    assert [t["number"] for t in made["fulfillment"]["trackingInfo"]] == ["TRK1", "TRK2"]
    again = (await shopify.gql(mutation, variables))["data"]["fulfillmentCreate"]
    assert again["fulfillment"] is None
    assert again["userErrors"]


async def test_variant_prices_through_bulk_update(shopify: ShopifyRig) -> None:
    product = next(iter(shopify.sim.state.products.values()))
    variant = product["variants"][0]
    mutation = """
    mutation($p: ID!, $v: [ProductVariantsBulkInput!]!) {
      productVariantsBulkUpdate(productId: $p, variants: $v) {
        productVariants { price } userErrors { code field message } } }
    """
    variables = {
        "p": product["admin_graphql_api_id"],
        "v": [{"id": variant["admin_graphql_api_id"], "price": "12.34"}],
    }
    result = (await shopify.gql(mutation, variables))["data"]["productVariantsBulkUpdate"]
    assert result == {"productVariants": [{"price": "12.34"}], "userErrors": []}
    assert shopify.sim.state.variants[variant["id"]]["price"] == "12.34"
