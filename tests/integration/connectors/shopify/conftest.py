"""A Shopify simulator on a real loopback port, a webhook receiver, and a connector aimed at it."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crossdock.connectorkit.http import AiohttpTransport, HttpClient
from crossdock.connectors.shopify import ShopifyConnector, ShopifySettings
from crossdock.sandbox.kit import Scenario, serve
from crossdock.sandbox.shopify import ShopifySimulator, default_scenario

API_VERSION = "2026-01"


@dataclass
class Hook:
    """One webhook delivery as the receiver got it."""

    raw: bytes
    headers: dict[str, str]


@dataclass
class Shop:
    """The simulator, its base URL, a raw client (the merchant or another app) and hooks."""

    sim: ShopifySimulator
    base_url: str
    http: aiohttp.ClientSession
    hook_url: str
    hooks: list[Hook] = field(default_factory=list)
    fail_hooks: int = 0
    connectors: list[HttpClient] = field(default_factory=list)

    @property
    def api(self) -> str:
        return f"{self.base_url}/admin/api/{API_VERSION}"

    def connector(self, **settings: Any) -> ShopifyConnector:
        """A fresh connector (its own budgets) aimed at the simulator."""
        client = HttpClient(AiohttpTransport())
        self.connectors.append(client)
        creds = self.sim.credentials_for(self.base_url)
        locations = {loc_id: str(loc["name"]) for loc_id, loc in self.sim.state.locations.items()}
        config = ShopifySettings(
            shop_domain=str(creds["shop_domain"]),
            api_version=API_VERSION,
            currency=self.sim.state.currency,
            webhook_secrets=(str(creds["client_secret"]), "shpss_previous_secret"),
            location_codes=locations,
        )
        for key, value in settings.items():
            config = _replace(config, key, value)
        return ShopifyConnector(
            config, http=client, access_token=str(creds["access_token"]), base_url=self.base_url
        )

    def item_of(self, sku: str) -> int:
        for variant in self.sim.state.variants.values():
            if variant["sku"] == sku:
                return int(variant["inventory_item_id"])
        raise KeyError(sku)

    def location(self, name: str) -> int:
        for loc_id, loc in self.sim.state.locations.items():
            if loc["name"] == name:
                return int(loc_id)
        raise KeyError(name)

    async def place(self, spec: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(f"{self.base_url}/_sandbox/shopify/orders", json=spec) as r:
            assert r.status == 201, await r.text()
            order: dict[str, Any] = (await r.json())["order"]
            return order

    async def faults(self, **spec: Any) -> None:
        async with self.http.post(f"{self.base_url}/_sandbox/faults", json=spec) as r:
            assert r.status == 200, await r.text()

    async def clear_faults(self) -> None:
        async with self.http.delete(f"{self.base_url}/_sandbox/faults") as r:
            assert r.status == 200, await r.text()

    async def effects(self, kind: str, key: str) -> dict[str, Any]:
        async with self.http.get(
            f"{self.base_url}/_sandbox/effects", params={"kind": kind, "key": key}
        ) as r:
            found: dict[str, Any] = (await r.json())["effects"].get(kind, {}).get(key, {})
            return found

    async def subscribe(self, *topics: str) -> None:
        for topic in topics:
            body = {"webhook": {"topic": topic, "address": self.hook_url, "format": "json"}}
            async with self.http.post(f"{self.api}/webhooks.json", json=body) as r:
                assert r.status == 201, await r.text()

    async def drain(self) -> None:
        async with self.http.post(f"{self.base_url}/_sandbox/deliveries/drain?timeout_s=20") as r:
            assert (await r.json())["drained"] is True


def _replace(config: ShopifySettings, key: str, value: Any) -> ShopifySettings:
    from dataclasses import replace

    return replace(config, **{key: value})


def scenario_with(**shop: Any) -> Scenario:
    """The default scenario with some shop settings changed."""
    base = default_scenario()
    data = copy.deepcopy(base.data)
    data["shop"].update(shop)
    return Scenario(seed=base.seed, data=data, name="shopify-connector-tests")


@pytest.fixture
def scenario() -> Scenario | None:
    return None


@pytest.fixture
async def shop(scenario: Scenario | None) -> AsyncIterator[Shop]:
    sim = ShopifySimulator(scenario, webhook_time_scale=0.00002)
    box: list[Shop] = []

    async def hook(request: Request) -> Response:
        raw = await request.body()
        current = box[0]
        if current.fail_hooks > 0:
            current.fail_hooks -= 1
            return Response(status_code=503)
        current.hooks.append(Hook(raw, dict(request.headers)))
        return Response(status_code=200)

    receiver = Starlette(routes=[Route("/hooks", hook, methods=["POST"])])
    async with serve(sim.app) as server, serve(receiver) as hooks:
        token = sim.credentials_for(server.base_url)["access_token"]
        async with aiohttp.ClientSession(headers={"X-Shopify-Access-Token": token}) as http:
            current = Shop(sim, server.base_url, http, f"{hooks.base_url}/hooks")
            box.append(current)
            try:
                yield current
            finally:
                for client in current.connectors:
                    await client.aclose()
