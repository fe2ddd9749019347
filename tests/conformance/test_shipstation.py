"""ShipStation V1 against its simulator: the standard conformance battery.

Basic auth never refreshes; the quota is scaled to 5 calls per 2 s for a quick burst; SHIP_NOTIFY
is unsigned, so the forgery is a delivery on an unknown hook token.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from crossdock.backbone.store import Command, Delivery
from crossdock.canonical.order import parse_order
from crossdock.connectorkit import Connector
from crossdock.connectorkit.testing import (
    CommandSample,
    ConformanceSpec,
    ConnectorOptions,
    InboundSample,
    InboundSpec,
    RateLimitSpec,
    SimulatorEnv,
    make_conformance_tests,
)
from crossdock.connectors.shipstation import (
    HOOK_TOKEN_HEADER,
    RELEASE_COMMAND,
    ShipStationConnector,
    createorder_body,
    shipstation_budget,
)
from crossdock.sandbox.shipstation import ShipStationSimulator

from .conftest import capture_delivery, served

ORDER = (
    Path(__file__).parents[1]
    / "fixtures"
    / "payloads"
    / "shipstation"
    / "canonical_order_1042.json"
)
HOOK_TOKEN = "hook-token-conformance-7d2e"


def _order() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ORDER.read_bytes(), parse_float=Decimal)
    return data


@asynccontextmanager
async def _start() -> AsyncIterator[SimulatorEnv]:
    async with served(
        ShipStationSimulator(webhook_time_scale=0.0001), hook_token=HOOK_TOKEN
    ) as env:
        yield env


def _connect(env: SimulatorEnv, options: ConnectorOptions) -> Connector:
    creds = options.credentials
    connector = ShipStationConnector(
        http=options.http,
        api_key=str(creds["api_key"]),
        api_secret=str(creds["api_secret"]),
        hook_tokens=[str(creds["hook_token"])],
        base_url=str(creds["api_url"]),
        location="wh-reno",
        rate_budget=options.rate_budget,
        breaker=options.breaker,
        clock=options.clock,
    )
    if options.timeout is not None:
        connector.default_timeout = options.timeout  # type: ignore[misc]
    return connector


def _spoil(creds: Mapping[str, Any]) -> Mapping[str, Any]:
    return {**creds, "api_secret": "not-the-secret", "hook_token": "not-the-token"}


async def _probe(connector: Connector) -> object:
    assert isinstance(connector, ShipStationConnector)
    return await connector.find_order("conformance", "#0")


async def _command(env: SimulatorEnv) -> CommandSample:
    order = _order()
    command = Command("flow-1:release", "shipstation", RELEASE_COMMAND, {"order": order})
    return CommandSample(command, effect_kind="order", effect_key=str(order["id"]))


async def _tighten(env: SimulatorEnv) -> None:
    sim: ShipStationSimulator = env.handle
    sim.window.configure(limit=5, window_s=2.0)


async def _notice(env: SimulatorEnv) -> InboundSample:
    sim: ShipStationSimulator = env.handle
    order = parse_order(_order())
    body = createorder_body(order, order_key=str(order.id), order_status="awaiting_shipment")
    order_id = sim.state.upsert(body).order["orderId"]
    caught = await capture_delivery(
        env, lambda: sim.ship(order_id, {}, base_url=env.base_url), topic="SHIP_NOTIFY"
    )
    # What the ingress passes on with the body: the token it read from the hook URL.
    return InboundSample({**caught.headers, HOOK_TOKEN_HEADER: HOOK_TOKEN}, caught.body)


def _to_delivery(connector: Connector, sample: InboundSample) -> Delivery:
    assert isinstance(connector, ShipStationConnector)
    return connector.delivery(sample.headers[HOOK_TOKEN_HEADER], sample.headers, sample.body)


def _wrong_token(sample: InboundSample) -> InboundSample:
    return InboundSample({**sample.headers, HOOK_TOKEN_HEADER: "guessed-token"}, sample.body)


SHIPSTATION_SPEC = ConformanceSpec(
    name="shipstation",
    start=_start,
    connect=_connect,
    spoil_credentials=_spoil,
    probe=_probe,
    command=_command,
    rate_limit=RateLimitSpec(
        burst=12,
        concurrency=4,
        tighten=_tighten,
        budget=lambda name: shipstation_budget(name, limit=5, window=2.0),
    ),
    inbound=InboundSpec(sample=_notice, to_delivery=_to_delivery, tamper=_wrong_token),
)

TestShipStationConformance = make_conformance_tests(SHIPSTATION_SPEC)
