"""A running hub with the ERP and Shopify simulators on loopback: ``[flows.inventory]`` only.

The simulators share one catalogue (Business Central's own item numbers, which its default
company holds in stock). The hub polls the ERP every 0.1 s and publishes to Shopify; the
NetSuite simulator runs in its own sandbox so a test can stop it (the ERP down).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest

from crossdock.canonical import registry
from crossdock.governance import parse_governance
from crossdock.hub import Hub
from crossdock.hub.availability import HubAvailability
from crossdock.hub.demo.wiring import subscribe_shopify
from crossdock.sandbox.catalogue import (
    CatalogueProduct,
    netsuite_catalogue_data,
    shopify_catalogue_data,
)
from crossdock.sandbox.kit import RunningSandbox, Scenario, run_sandbox

T = TypeVar("T")

CATALOGUE: tuple[tuple[str, str, str], ...] = (
    ("1896-S", "ATHENS Desk", "1000.80"),
    ("1936-S", "BERLIN Guest Chair, yellow", "192.80"),
)
NETSUITE_ITEM = {sku: str(9100 + n) for n, (sku, _, _) in enumerate(CATALOGUE)}
STOCK = 40
DEADLINE_S = 30.0


def scenarios() -> dict[str, Scenario]:
    """Shopify and NetSuite seeded with `CATALOGUE` (NetSuite: `STOCK` at location 1)."""
    products = [
        CatalogueProduct(sku, title, price, NETSUITE_ITEM[sku]) for sku, title, price in CATALOGUE
    ]
    shopify = shopify_catalogue_data(products, stock=5)
    netsuite = netsuite_catalogue_data(products, on_hand=STOCK)
    return {
        "shopify": Scenario(seed=1, data=shopify, name="hub-availability-shopify"),
        "netsuite": Scenario(seed=7, data=netsuite, name="hub-availability-netsuite"),
    }


def _erp_lines(erp: str, entry: Mapping[str, Any], poll_s: float) -> list[str]:
    creds = entry["credentials"]
    breaker = 'breaker = { failure_threshold = 2, open_for = "1m", half_open_probes = 1 }'
    if erp == "netsuite":
        return [
            "[systems.netsuite]",
            'kind = "netsuite"',
            f'base_url = "{entry["base_url"]}"',
            f'settings.account_id = "{creds["account_id"]}"',
            f"settings.poll_interval_s = {poll_s}",
            'credentials.consumer_key = "env:HA_NS_CONSUMER_KEY"',
            'credentials.consumer_secret = "env:HA_NS_CONSUMER_SECRET"',
            'credentials.token_id = "env:HA_NS_TOKEN_ID"',
            'credentials.token_secret = "env:HA_NS_TOKEN_SECRET"',
            breaker,
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
        'settings.location = "bc-main"',
        f"settings.poll_interval_s = {poll_s}",
        'credentials.client_id = "env:HA_BC_CLIENT_ID"',
        'credentials.client_secret = "env:HA_BC_CLIENT_SECRET"',
        breaker,
    ]


def governance_text(
    database: Path, systems: Mapping[str, Any], erp: str, *, poll_s: float = 0.1
) -> str:
    """A governance file: Shopify and the ERP, ``[flows.inventory]`` publishing to Shopify."""
    lines = [
        "[hub]",
        'name = "hub-availability-test"',
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
        'credentials.access_token = "env:HA_SHOPIFY_TOKEN"',
        'credentials.webhook_secret = "env:HA_SHOPIFY_SECRET"',
        "",
        *_erp_lines(erp, systems[erp], poll_s),
    ]
    for entity in registry.ENTITY_NAMES:
        lines += ["", f"[ownership.{entity}]", f'default_owner = "{erp}"']
    lines += [
        "",
        "[domains.inventory_availability]",
        'pattern = "event"',
        'latency_target = "60s"',
        'entities = ["inventory_level"]',
        "",
        "[flows.inventory]",
        f'erp = "{erp}"',
        'publish_to = ["shopify"]',
        "safety_stock = 2",
    ]
    return "\n".join(lines) + "\n"


def environ(systems: Mapping[str, Any]) -> dict[str, str]:
    """The credentials the governance file's ``env:`` references name."""
    shop = systems["shopify"]["credentials"]
    found = {"HA_SHOPIFY_TOKEN": shop["access_token"], "HA_SHOPIFY_SECRET": shop["client_secret"]}
    if "netsuite" in systems:
        ns = systems["netsuite"]["credentials"]
        found |= {
            "HA_NS_CONSUMER_KEY": ns["consumer_key"],
            "HA_NS_CONSUMER_SECRET": ns["consumer_secret"],
            "HA_NS_TOKEN_ID": ns["token_id"],
            "HA_NS_TOKEN_SECRET": ns["token_secret"],
        }
    if "businesscentral" in systems:
        bc = systems["businesscentral"]["credentials"]
        found |= {"HA_BC_CLIENT_ID": bc["client_id"], "HA_BC_CLIENT_SECRET": bc["client_secret"]}
    return found


@dataclass
class Rig:
    """The simulators, the running hub and an HTTP session."""

    hub: Hub
    session: aiohttp.ClientSession
    systems: dict[str, Any]
    simulators: dict[str, Any]
    erp: str
    stack: contextlib.AsyncExitStack
    erp_stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    stock: int = STOCK
    """Units of each SKU the ERP holds at its location 1 (NetSuite) at the start."""

    @property
    def availability(self) -> HubAvailability:
        assert self.hub.availability is not None
        return self.hub.availability

    async def get(self, url: str) -> tuple[int, Any]:
        async with self.session.get(url) as response:
            return response.status, await response.json(content_type=None)

    async def set_netsuite_stock(self, sku: str, location: str, on_hand: int) -> None:
        """Change the stock in the NetSuite simulator (its admin API)."""
        url = f"{self.systems['netsuite']['admin_url']}/netsuite/stock"
        body = {"item": NETSUITE_ITEM[sku], "location": location, "on_hand": on_hand}
        async with self.session.post(url, json=body) as response:
            assert response.status == 200, await response.text()

    def shopify_available(self, sku: str) -> int | None:
        """What the Shopify simulator shows for `sku` (summed over its locations)."""
        state = self.simulators["shopify"].state
        items = {v["inventory_item_id"] for v in state.variants.values() if v.get("sku") == sku}
        found = [lvl["available"] for (item, _), lvl in state.levels.items() if item in items]
        return sum(found) if found else None

    async def eventually(self, probe: Callable[[], Awaitable[T | None]], what: str) -> T:
        """Poll `probe` until it answers something other than None (bounded)."""
        return await eventually(probe, what)


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Poll `probe` until it answers something other than None (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while True:
        found = await probe()
        if found is not None:
            return found
        if loop.time() > deadline:
            raise AssertionError(f"not within {DEADLINE_S} s: {what}")
        await asyncio.sleep(0.05)


async def start_rig(tmp_path: Path, erp: str, *, subscribe: bool = True) -> Rig:
    """Start Shopify and the ERP's simulators (the ERP in its own sandbox) and the hub."""
    stack = contextlib.AsyncExitStack()
    await stack.__aenter__()
    erp_stack = contextlib.AsyncExitStack()
    await erp_stack.__aenter__()
    stack.push_async_callback(erp_stack.aclose)
    chosen = scenarios()
    shop = await stack.enter_async_context(run_sandbox(["shopify"], scenarios=chosen))
    erp_sandbox: RunningSandbox = await erp_stack.enter_async_context(
        run_sandbox([erp], scenarios={k: v for k, v in chosen.items() if k == erp})
    )
    for sim in shop.simulators.values():
        if sim.webhooks is not None:  # retries in milliseconds, not hours
            sim.webhooks.schedule = dataclasses.replace(sim.webhooks.schedule, time_scale=0.001)
    systems = {**shop.manifest["systems"], **erp_sandbox.manifest["systems"]}
    simulators = {**shop.simulators, **erp_sandbox.simulators}
    governance = parse_governance(governance_text(tmp_path / "hub.db", systems, erp))
    hub = Hub(governance, environ=environ(systems))
    await hub.start()
    stack.push_async_callback(hub.stop)
    session = await stack.enter_async_context(aiohttp.ClientSession())
    if subscribe:
        await subscribe_shopify(
            session,
            systems["shopify"],
            f"{hub.base_url}/hooks/shopify",
            ["inventory_levels/update"],
        )
    return Rig(hub, session, systems, simulators, erp, stack, erp_stack)


RigFactory = Callable[[str], Awaitable[Rig]]


@pytest.fixture
async def make_rig(tmp_path: Path) -> AsyncIterator[RigFactory]:
    """Start a rig for an ERP (``netsuite`` or ``businesscentral``); stopped after the test."""
    started: list[Rig] = []

    async def make(erp: str) -> Rig:
        rig = await start_rig(tmp_path, erp, subscribe=erp == "netsuite")
        started.append(rig)
        return rig

    yield make
    for rig in started:
        await rig.stack.aclose()


@pytest.fixture
async def netsuite_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """A hub polling the NetSuite simulator and publishing to the Shopify simulator."""
    rig = await start_rig(tmp_path, "netsuite")
    try:
        yield rig
    finally:
        await rig.stack.aclose()
