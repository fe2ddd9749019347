"""Shopify against its simulator: the standard conformance battery.

A static Admin API token (no refresh); the REST leaky bucket at its real size (40, leaking 2 per
second) under a burst of 45; webhooks caught from the simulator's own signed deliveries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from crossdock.backbone.store import Command, Delivery
from crossdock.connectorkit import AuthFailedError, Connector, RetryLaterError
from crossdock.connectorkit.testing import (
    CommandSample,
    ConformanceSpec,
    ConnectorOptions,
    InboundSample,
    InboundSpec,
    RateLimitSpec,
    SimulatorEnv,
    error_classes,
    make_conformance_tests,
)
from crossdock.connectors.shopify import ShopifyConnector, ShopifySettings
from crossdock.sandbox.shopify import ShopifySimulator

from .conftest import capture_delivery, served

SKU, LOCATION = "MUG-RED", "Entrepôt Lyon"


@asynccontextmanager
async def _start() -> AsyncIterator[SimulatorEnv]:
    async with served(ShopifySimulator(webhook_time_scale=0.00002)) as env:
        yield env


def _connect(env: SimulatorEnv, options: ConnectorOptions) -> Connector:
    creds = options.credentials
    settings = ShopifySettings(
        shop_domain=str(creds["shop_domain"]),
        api_version=str(creds["api_version"]),
        webhook_secrets=(str(creds["client_secret"]),),
        request_timeout=options.timeout or 30.0,
    )
    return ShopifyConnector(
        settings,
        http=options.http,
        access_token=str(creds["access_token"]),
        base_url=env.base_url,
        rate_budget=options.rate_budget,
        breaker=options.breaker,
        clock=options.clock,
    )


def _spoil(creds: Mapping[str, Any]) -> Mapping[str, Any]:
    return {**creds, "access_token": "shpat_not_the_token", "client_secret": "not-the-secret"}


async def _probe(connector: Connector) -> object:
    assert isinstance(connector, ShopifyConnector)
    return (await connector.rest("GET", "locations.json")).json()


async def _command(env: SimulatorEnv) -> CommandSample:
    sim: ShopifySimulator = env.handle
    item = next(int(v["inventory_item_id"]) for v in sim.state.variants.values() if v["sku"] == SKU)
    location = next(i for i, loc in sim.state.locations.items() if loc["name"] == LOCATION)
    now = sim.state.quantity(item, location)
    payload = {
        "inventory_item_id": item,
        "location_id": location,
        "quantity": now - 3,
        "change_from": now,  # the first request is then the write itself
    }
    command = Command("flow-1:inventory", "shopify", "inventory.set", payload)
    return CommandSample(command, effect_kind="inventory", effect_key=f"{item}@{location}")


async def _order_created(env: SimulatorEnv) -> InboundSample:
    sim: ShopifySimulator = env.handle
    spec = {"line_items": [{"sku": SKU, "quantity": 1}]}
    return await capture_delivery(env, lambda: sim.place_order(spec), topic="orders/create")


def _to_delivery(connector: Connector, sample: InboundSample) -> Delivery:
    assert isinstance(connector, ShopifyConnector)
    return connector.to_delivery(sample.headers, sample.body)


SHOPIFY_SPEC = ConformanceSpec(
    name="shopify",
    start=_start,
    connect=_connect,
    spoil_credentials=_spoil,
    probe=_probe,
    command=_command,
    error_classes=error_classes(s403=AuthFailedError, s423=RetryLaterError),
    rate_limit=RateLimitSpec(burst=45, concurrency=4),
    inbound=InboundSpec(sample=_order_created, to_delivery=_to_delivery),
)

TestShopifyConformance = make_conformance_tests(SHOPIFY_SPEC)
