"""The simulator's own wire behaviour, checked with a plain HTTP client (no connector)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from crossdock.connectorkit.http import encode_json
from crossdock.sandbox.kit import (
    RunningServer,
    create,
    parse_scenario,
    run_sandbox,
    serve,
    system_entry,
)
from crossdock.sandbox.shipstation import ShipStationSimulator


@pytest.fixture
def auth(sim: ShipStationSimulator, server: RunningServer) -> dict[str, str]:
    creds = sim.credentials_for(server.base_url)
    return {"Authorization": aiohttp.encode_basic_auth(creds["api_key"], creds["api_secret"])}


def _order(key: str, **changes: Any) -> dict[str, Any]:
    return {
        "orderNumber": "S-100",
        "orderKey": key,
        "orderDate": "2026-11-20T00:15:00.0000000",
        "orderStatus": "awaiting_shipment",
        "billTo": {"name": "Zoë Ørsted"},
        "shipTo": {"name": "Zoë Ørsted", "country": "DK"},
        "items": [
            {
                "lineItemKey": "L1",
                "sku": "MUG-RED",
                "name": "Mug",
                "quantity": 2,
                "unitPrice": Decimal("14.90"),
            },
        ],
        "taxAmount": Decimal("0.00"),
        "shippingAmount": Decimal("4.90"),
    } | changes


def _body(data: Any) -> bytes:
    return encode_json(data)


async def _post(
    raw: aiohttp.ClientSession, url: str, data: Any, headers: dict[str, str]
) -> tuple[int, Any, str]:
    async with raw.post(
        url, data=_body(data), headers=headers | {"Content-Type": "application/json"}
    ) as response:
        text = await response.text()
        return response.status, json.loads(text, parse_float=Decimal) if text else None, text


async def test_basic_auth_is_required(server: RunningServer, raw: aiohttp.ClientSession) -> None:
    for headers in ({}, {"Authorization": "Basic !!!"}, {"Authorization": "Bearer x"}):
        async with raw.get(f"{server.base_url}/orders", headers=headers) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"].startswith("Basic")
            assert await response.json() == {
                "Message": "Authorization has been denied for this request."
            }


async def test_createorder_answers_the_full_order_with_money_as_numbers(
    server: RunningServer, raw: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    status, order, text = await _post(
        raw, f"{server.base_url}/orders/createorder", _order("key-1"), auth
    )

    assert status == 200
    assert isinstance(order["orderId"], int)
    assert order["orderTotal"] == Decimal("34.70")
    assert '"unitPrice":14.90' in text
    assert order["items"][0]["orderItemId"] > 0
    assert order["shipTo"]["addressVerified"] == "Address not yet validated"
    for name in ("createDate", "modifyDate", "holdUntilDate", "advancedOptions", "shipDate"):
        assert name in order


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"orderStatus": "packed"}, "apiOrder.orderStatus"),
        ({"billTo": None}, "apiOrder.billTo"),
        ({"shipTo": "Copenhagen"}, "apiOrder.shipTo"),
        ({"items": [{"quantity": 1.5}]}, "apiOrder.items[0].quantity"),
    ],
)
async def test_invalid_orders_get_the_model_state(
    server: RunningServer,
    raw: aiohttp.ClientSession,
    auth: dict[str, str],
    changes: dict[str, Any],
    field: str,
) -> None:
    status, body, _ = await _post(
        raw, f"{server.base_url}/orders/createorder", _order("k", **changes), auth
    )

    assert status == 400
    assert body["Message"] == "The request is invalid."
    assert field in body["ModelState"]


async def test_orders_list_hold_and_errors(
    server: RunningServer, raw: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    _, order, _ = await _post(raw, f"{server.base_url}/orders/createorder", _order("k-2"), auth)
    async with raw.get(f"{server.base_url}/orders?orderNumber=S-100", headers=auth) as response:
        listed = await response.json()
    assert (listed["total"], listed["page"], listed["pages"]) == (1, 1, 1)

    hold = {"orderId": order["orderId"], "holdUntilDate": "2026-12-24"}
    status, body, _ = await _post(raw, f"{server.base_url}/orders/holduntil", hold, auth)
    assert (status, body["success"]) == (200, True)
    status, body, _ = await _post(
        raw, f"{server.base_url}/orders/restorefromhold", {"orderId": order["orderId"]}, auth
    )
    assert (status, body["message"]) == (200, "Order restored successfully.")
    status, _, _ = await _post(
        raw, f"{server.base_url}/orders/restorefromhold", {"orderId": order["orderId"]}, auth
    )
    assert status == 400
    async with raw.get(f"{server.base_url}/orders/12", headers=auth) as response:
        assert response.status == 404


async def test_shipments_without_items_and_an_unknown_void(
    sim: ShipStationSimulator,
    server: RunningServer,
    raw: aiohttp.ClientSession,
    auth: dict[str, str],
) -> None:
    _, order, _ = await _post(raw, f"{server.base_url}/orders/createorder", _order("k-3"), auth)
    _, batch = sim.ship(order["orderId"], {}, notify=False)

    url = f"{server.base_url}/shipments?batchId={batch}&includeShipmentItems=False"
    async with raw.get(url, headers=auth) as response:
        page = await response.json()
    assert page["total"] == 1
    assert page["shipments"][0]["shipmentItems"] is None
    assert page["shipments"][0]["voided"] is False
    status, _, _ = await _post(
        raw, f"{server.base_url}/shipments/voidlabel", {"shipmentId": 1}, auth
    )
    assert status == 404
    status, _, _ = await _post(
        raw,
        f"{server.base_url}/orders/holduntil",
        {"orderId": order["orderId"], "holdUntilDate": "2026-12-24"},
        auth,
    )
    assert status == 400  # shipped orders are locked


async def test_webhook_subscriptions_can_be_listed_and_removed(
    server: RunningServer, raw: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    hook = {"target_url": "https://hub.example/h/t", "event": "SHIP_NOTIFY", "friendly_name": "hub"}
    status, created, _ = await _post(raw, f"{server.base_url}/webhooks/subscribe", hook, auth)
    assert status == 201
    status, refused, _ = await _post(
        raw, f"{server.base_url}/webhooks/subscribe", hook | {"event": "SOMETHING"}, auth
    )
    assert status == 400
    assert "event" in refused["ModelState"]

    async with raw.get(f"{server.base_url}/webhooks", headers=auth) as response:
        hooks = (await response.json())["webhooks"]
    assert [(h["WebHookID"], h["HookType"], h["Url"]) for h in hooks] == [
        (created["id"], "SHIP_NOTIFY", "https://hub.example/h/t")
    ]
    async with raw.delete(f"{server.base_url}/webhooks/{created['id']}", headers=auth) as response:
        assert response.status == 200
    async with raw.delete(f"{server.base_url}/webhooks/{created['id']}", headers=auth) as response:
        assert response.status == 404


async def test_the_simulator_is_registered_and_runs_in_a_sandbox() -> None:
    made = create("shipstation", seed=7)
    assert isinstance(made, ShipStationSimulator)
    assert made.seed == 7

    async with run_sandbox(["shipstation"]) as sandbox:
        entry = system_entry(sandbox.manifest, "shipstation")
        assert entry["credentials"]["api_url"] == entry["base_url"]
        assert entry["credentials"]["rate_limit"] == {"limit": 40, "window_s": 60.0}


async def test_a_scenario_seeds_orders_quota_and_automatic_shipping() -> None:
    scenario = parse_scenario(
        """
        seed = 11
        accounts = [{api_key = "k", api_secret = "s"}]
        rate_limit = {limit = 3, window_s = 10}
        auto_ship = {first_after_s = 0.01, rest_after_s = 0.01, split = true}

        [[orders]]
        orderNumber = "SEED-1"
        orderKey = "seed-1"
        orderDate = "2026-11-20T00:15:00.0000000"
        orderStatus = "on_hold"
        holdUntilDate = "2026-01-01"
        billTo = {name = "A"}
        shipTo = {name = "A"}
        items = [{lineItemKey = "L1", sku = "MUG-RED", quantity = 2, unitPrice = 14.90}]
        """,
        fmt="toml",
    )
    sim = ShipStationSimulator(scenario)
    assert sim.window.limit == 3
    assert sim.auto_ship is not None
    order = sim.state.orders[sim.state.by_key["seed-1"]]
    assert order["items"][0]["unitPrice"] == Decimal("14.90")

    async with serve(sim.app) as server, aiohttp.ClientSession() as raw:
        auth = {"Authorization": aiohttp.encode_basic_auth("k", "s")}
        async with raw.get(f"{server.base_url}/orders/{order['orderId']}", headers=auth) as r:
            assert (await r.json())["orderStatus"] == "awaiting_shipment"  # the hold date passed
        for _ in range(100):
            if order["orderStatus"] == "shipped":
                break
            await asyncio.sleep(0.01)
    assert order["orderStatus"] == "shipped"
    shipments = [s for s in sim.state.shipments.values() if s["orderKey"] == "seed-1"]
    assert [sum(q for _, q in s["_lines"]) for s in shipments] == [1, 1]
