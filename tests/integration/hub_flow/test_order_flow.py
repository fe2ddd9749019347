"""The running hub drives paid Shopify orders through NetSuite, Salesforce and ShipStation.

Five simulators run in-process on loopback (Shopify, NetSuite, Salesforce, ShipStation,
EasyPost), seeded with one shared catalogue. A real `Hub` on a SQLite file receives Shopify's
and ShipStation's webhooks, runs the order flow and sends its commands. Exactly-once is judged
by the simulators' own effect ledgers (``/_sandbox/effects``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest

from crossdock.canonical import registry
from crossdock.connectors.businesscentral.bodies import external_document_number
from crossdock.flows.order_fulfilment import OrderFulfilment
from crossdock.flows.order_fulfilment.flow import order_key_for
from crossdock.governance import parse_governance
from crossdock.hub import Hub
from crossdock.hub.demo.wiring import subscribe_easypost, subscribe_shipstation, subscribe_shopify
from crossdock.sandbox.catalogue import (
    CatalogueProduct,
    netsuite_catalogue_data,
    shopify_catalogue_data,
)
from crossdock.sandbox.kit import RunningSandbox, Scenario, run_sandbox
from crossdock.sandbox.salesforce._simulator import DEFAULT_DATA as SALESFORCE_DATA

T = TypeVar("T")

# One catalogue, the same SKUs in every system (Business Central's own item numbers, so its
# default company has them in stock).
CATALOGUE: tuple[tuple[str, str, str], ...] = (
    ("1896-S", "ATHENS Desk", "1000.80"),
    ("1936-S", "BERLIN Guest Chair, yellow", "192.80"),
)
STOCK = 200
FLOW = OrderFulfilment.name
DEADLINE_S = 60.0


def _scenarios() -> dict[str, Scenario]:
    products = [
        CatalogueProduct(sku, title, price, str(9100 + n))
        for n, (sku, title, price) in enumerate(CATALOGUE)
    ]
    shopify = shopify_catalogue_data(products, stock=STOCK)
    netsuite = netsuite_catalogue_data(products, on_hand=STOCK)
    salesforce = {
        **SALESFORCE_DATA,
        "catalog": [{"sku": sku, "name": title, "price": price} for sku, title, price in CATALOGUE],
    }
    return {
        "shopify": Scenario(seed=1, data=shopify, name="hub-flow-shopify"),
        "netsuite": Scenario(seed=7, data=netsuite, name="hub-flow-netsuite"),
        "salesforce": Scenario(seed=62, data=salesforce, name="hub-flow-salesforce"),
    }


def _erp_lines(erp: str, manifest: Mapping[str, Any]) -> list[str]:
    entry = manifest["systems"][erp]
    creds = entry["credentials"]
    if erp == "netsuite":
        return [
            "[systems.netsuite]",
            'kind = "netsuite"',
            f'base_url = "{entry["base_url"]}"',
            f'settings.account_id = "{creds["account_id"]}"',
            'credentials.consumer_key = "env:HF_NS_CONSUMER_KEY"',
            'credentials.consumer_secret = "env:HF_NS_CONSUMER_SECRET"',
            'credentials.token_id = "env:HF_NS_TOKEN_ID"',
            'credentials.token_secret = "env:HF_NS_TOKEN_SECRET"',
            "settings.poll_interval_s = 0.2",
        ]
    return [
        "[systems.businesscentral]",
        'kind = "businesscentral"',
        f'base_url = "{entry["base_url"]}"',
        f'settings.tenant = "{creds["tenant"]}"',
        f'settings.environment = "{creds["environment"]}"',
        f'settings.company_id = "{creds["company_id"]}"',
        f'settings.login_url = "{creds["token_url"]}"',
        'settings.local_currency = "USD"',
        'credentials.client_id = "env:HF_BC_CLIENT_ID"',
        'credentials.client_secret = "env:HF_BC_CLIENT_SECRET"',
        "settings.poll_interval_s = 0.2",
    ]


def _governance_text(database: Path, manifest: Mapping[str, Any], erp: str) -> str:
    systems = manifest["systems"]
    lines = [
        "[hub]",
        'name = "hub-flow-test"',
        f'database_url = "sqlite:///{database}"',
        'api_host = "127.0.0.1"',
        "api_port = 0",
        "",
        "[systems.shopify]",
        'kind = "shopify"',
        f'base_url = "{systems["shopify"]["base_url"]}"',
        'api_version = "2026-10"',
        f'settings.shop_domain = "{systems["shopify"]["credentials"]["shop_domain"]}"',
        'settings.currency = "USD"',
        'credentials.access_token = "env:HF_SHOPIFY_TOKEN"',
        'credentials.webhook_secret = "env:HF_SHOPIFY_SECRET"',
        "",
        *_erp_lines(erp, manifest),
        "",
        "[systems.salesforce]",
        'kind = "salesforce"',
        f'base_url = "{systems["salesforce"]["base_url"]}"',
        'api_version = "v62.0"',
        'credentials.client_id = "env:HF_SF_CLIENT_ID"',
        'credentials.client_secret = "env:HF_SF_CLIENT_SECRET"',
        "",
        "[systems.shipstation]",
        'kind = "shipstation"',
        f'base_url = "{systems["shipstation"]["base_url"]}"',
        f"settings.store_id = {systems['shipstation']['credentials']['store_id']}",
        'credentials.api_key = "env:HF_SS_KEY"',
        'credentials.api_secret = "env:HF_SS_SECRET"',
        'credentials.hook_token = "env:HF_SS_HOOK_TOKEN"',
        "",
        "[systems.easypost]",
        'kind = "easypost"',
        f'base_url = "{systems["easypost"]["base_url"]}"',
        'credentials.api_key = "env:HF_EP_KEY"',
        'credentials.webhook_secret = "env:HF_EP_SECRET"',
    ]
    for entity in registry.ENTITY_NAMES:
        lines += ["", f"[ownership.{entity}]", f'default_owner = "{erp}"']
    lines += [
        "",
        "[flows.order_fulfilment]",
        f'erp = "{erp}"',
        'channels = ["shopify"]',
        'crm = "salesforce"',
        'tracking = "easypost"',
        'routing = [{ warehouse = "shipstation" }]',
    ]
    return "\n".join(lines) + "\n"


def _environ(manifest: Mapping[str, Any], hook_token: str) -> dict[str, str]:
    systems = manifest["systems"]
    shop, ns = systems["shopify"]["credentials"], systems["netsuite"]["credentials"]
    sf, ss = systems["salesforce"]["credentials"], systems["shipstation"]["credentials"]
    ep, bc = systems["easypost"]["credentials"], systems["businesscentral"]["credentials"]
    return {
        "HF_SHOPIFY_TOKEN": shop["access_token"],
        "HF_SHOPIFY_SECRET": shop["client_secret"],
        "HF_NS_CONSUMER_KEY": ns["consumer_key"],
        "HF_NS_CONSUMER_SECRET": ns["consumer_secret"],
        "HF_NS_TOKEN_ID": ns["token_id"],
        "HF_NS_TOKEN_SECRET": ns["token_secret"],
        "HF_BC_CLIENT_ID": bc["client_id"],
        "HF_BC_CLIENT_SECRET": bc["client_secret"],
        "HF_SF_CLIENT_ID": sf["client_id"],
        "HF_SF_CLIENT_SECRET": sf["client_secret"],
        "HF_SS_KEY": ss["api_key"],
        "HF_SS_SECRET": ss["api_secret"],
        "HF_SS_HOOK_TOKEN": hook_token,
        "HF_EP_KEY": ep["api_key"],
        "HF_EP_SECRET": ep["webhook_secret"],
    }


@dataclass
class Rig:
    """The simulators, the hub and an HTTP session to drive them."""

    sandbox: RunningSandbox
    hub: Hub
    session: aiohttp.ClientSession
    erp: str

    def admin(self, system: str) -> str:
        return str(self.sandbox.manifest["systems"][system]["admin_url"])

    async def get(self, url: str) -> Any:
        async with self.session.get(url) as response:
            assert response.status == 200, await response.text()
            return await response.json(content_type=None)

    async def post(self, url: str, body: Any, status: int = 201) -> Any:
        async with self.session.post(url, json=body) as response:
            answer = await response.json(content_type=None)
            assert response.status == status, answer
            return answer

    async def effects(self, system: str) -> dict[str, dict[str, Any]]:
        report = await self.get(f"{self.admin(system)}/effects")
        return dict(report["effects"])

    def erp_key(self, key: str) -> str:
        """The key of an order's sales order in the ERP's effect ledger."""
        return key if self.erp == "netsuite" else external_document_number(key)

    async def status(self, key: str) -> str | None:
        assert self.hub.store is not None
        found = await self.hub.store.get_flow_state(FLOW, key)
        inner = None if found is None else found.state.get("state")
        return None if not isinstance(inner, dict) else str(inner.get("status"))


@pytest.fixture(params=["netsuite", "businesscentral"])
async def rig(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    erp = str(request.param)
    names = ["shopify", "netsuite", "businesscentral", "salesforce", "shipstation", "easypost"]
    async with contextlib.AsyncExitStack() as stack:
        sandbox = await stack.enter_async_context(run_sandbox(names, scenarios=_scenarios()))
        for sim in sandbox.simulators.values():
            sender = sim.webhooks
            if sender is not None:  # retries in milliseconds, not hours
                sender.schedule = dataclasses.replace(sender.schedule, time_scale=0.001)
        token = secrets.token_urlsafe(24)
        governance = parse_governance(_governance_text(tmp_path / "hub.db", sandbox.manifest, erp))
        hub = Hub(governance, environ=_environ(sandbox.manifest, token))
        await hub.start()
        stack.push_async_callback(hub.stop)
        session = await stack.enter_async_context(aiohttp.ClientSession())
        systems = sandbox.manifest["systems"]
        await subscribe_shopify(session, systems["shopify"], f"{hub.base_url}/hooks/shopify")
        await subscribe_shipstation(
            session,
            systems["shipstation"],
            f"{hub.base_url}/hooks/shipstation/{token}",
            f"{hub.base_url}/hooks/shipstation/...",
        )
        await subscribe_easypost(session, systems["easypost"], f"{hub.base_url}/hooks/easypost")
        yield Rig(sandbox, hub, session, erp)


async def _eventually(probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while True:
        found = await probe()
        if found is not None:
            return found
        if loop.time() > deadline:
            raise AssertionError(f"not within {DEADLINE_S} s: {what}")
        await asyncio.sleep(0.2)


def _order_spec(n: int, sku: str, quantity: int) -> dict[str, Any]:
    address = {
        "first_name": f"Ada{n}",
        "last_name": "Lovelace",
        "address1": f"{n} Main Street",
        "city": "Springfield",
        "province_code": "IL",
        "zip": "62701",
        "country_code": "US",
        "phone": "+1 217 555 0100",
    }
    email = f"ada{n}@example.com"
    return {
        "line_items": [{"sku": sku, "quantity": quantity}],
        "email": email,
        "customer": {
            "email": email,
            "first_name": address["first_name"],
            "last_name": address["last_name"],
            "default_address": address,
        },
        "shipping_address": address,
        "billing_address": address,
        "source_name": "web",
    }


async def _erp_stock_known(rig: Rig) -> None:
    """Wait until the hub has polled the ERP's stock of every SKU (its only stock source)."""
    assert rig.hub.availability is not None
    model = rig.hub.availability.model

    async def known() -> bool | None:
        await model.catch_up()
        return True if all(model.total(sku) for sku, _, _ in CATALOGUE) else None

    await _eventually(known, "the ERP's stock polled into the availability")


async def _holds_follow_the_erp(rig: Rig, keys: list[str]) -> None:
    """Each order was held at validation; NetSuite's levels carry the units once its sales
    order exists (the hold ends after the next poll); Business Central's only once shipped."""
    availability = rig.hub.availability
    assert availability is not None
    store = availability.store
    for key in keys:
        assert await store.get_flow_state("availability.order", key) is not None  # was held

    async def settled() -> bool | None:
        held = [await availability.reservations.held(key) for key in keys]
        if rig.erp == "netsuite":
            return True if not any(held) and not await availability.releases.pending() else None
        waiting = await availability.releases.awaiting_fulfilment()
        return True if all(held) and set(waiting) == set(keys) else None

    await _eventually(settled, "the holds where the ERP's levels put them")


def _created(effects: Mapping[str, Mapping[str, Any]], kind: str, key: str) -> int:
    return int(effects.get(kind, {}).get(key, {}).get("created", 0))


async def test_paid_orders_reach_erp_crm_and_warehouse_once_then_ship(rig: Rig) -> None:
    await _erp_stock_known(rig)
    shopify = rig.admin("shopify")
    placed: dict[str, dict[str, Any]] = {}
    for n, (sku, quantity) in enumerate([("1896-S", 2), ("1936-S", 1), ("1896-S", 1)]):
        order = (await rig.post(f"{shopify}/shopify/orders", _order_spec(n, sku, quantity)))[
            "order"
        ]
        placed[order_key_for("shopify", f"gid://shopify/Order/{order['id']}")] = order

    async def everywhere_once() -> bool | None:
        statuses = {await rig.status(key) for key in placed}
        erp, crm = await rig.effects(rig.erp), await rig.effects("salesforce")
        warehouse = await rig.effects("shipstation")
        done = statuses == {"released_to_warehouse"} and all(
            _created(erp, "salesOrder", rig.erp_key(key))
            and _created(crm, "Order.Shopify_Order_Id__c", str(order["id"]))
            and _created(warehouse, "order", key)
            for key, order in placed.items()
        )
        return True if done else None

    await _eventually(everywhere_once, "every order in the ERP, the CRM and the warehouse")
    erp, crm = await rig.effects(rig.erp), await rig.effects("salesforce")
    warehouse = await rig.effects("shipstation")
    for key, order in placed.items():
        assert _created(erp, "salesOrder", rig.erp_key(key)) == 1
        assert _created(crm, "Order.Shopify_Order_Id__c", str(order["id"])) == 1
        assert _created(warehouse, "order", key) == 1
        assert warehouse["order"][key]["last_state"] == "awaiting_shipment"
    assert len(erp["salesOrder"]) == len(crm["Order.Shopify_Order_Id__c"]) == len(placed)
    assert len(warehouse["order"]) == len(placed)
    await _holds_follow_the_erp(rig, list(placed))

    # The warehouse ships one order: SHIP_NOTIFY -> shipment -> ERP fulfilment + channel tracking.
    first, order = next(iter(placed.items()))
    answer = await rig.post(f"{rig.admin('shipstation')}/shipstation/ship", {"orderKey": first})
    tracking = str(answer["shipment"]["trackingNumber"])
    assert rig.hub.store is not None
    store = rig.hub.store

    async def recorded() -> dict[str, Any] | None:
        found = {s.event.type: s.event.data for s in await store.events_by_subject(first)}
        wanted = ("erp.fulfillment.recorded", "channel.fulfillment.created")
        if await rig.status(first) == "shipped" and all(t in found for t in wanted):
            return found
        return None

    events = await _eventually(recorded, "the shipment recorded in the ERP and the storefront")
    erp_result = events["erp.fulfillment.recorded"]["result"]
    assert erp_result["netsuite_id"] if rig.erp == "netsuite" else erp_result["posted"]
    created = events["channel.fulfillment.created"]["result"]["created"]
    assert [f["tracking_number"] for f in created] == [tracking]
    erp, storefront = await rig.effects(rig.erp), await rig.effects("shopify")
    fulfilments = erp["itemFulfillment" if rig.erp == "netsuite" else "shipAndInvoice"]
    assert [e["created"] for e in fulfilments.values()] == [1]
    assert _created(storefront, "fulfillment", str(order["id"])) == 1
    assert len(storefront["fulfillment"]) == 1
    if rig.erp == "businesscentral":  # its stock leaves on hand with the posted shipment
        availability = rig.hub.availability
        assert availability is not None

        async def released() -> bool | None:
            return True if not await availability.reservations.held(first) else None

        await _eventually(released, "the shipped order's hold ended after the ERP posted it")
    # The other orders wait in the warehouse; nothing failed anywhere.
    assert {await rig.status(key) for key in placed if key != first} == {"released_to_warehouse"}
    types = [s.event.type for s in await store.read_events(0, limit=1000)]
    assert "command.failed" not in types
    assert "order.command_failed" not in types
