"""The ShipStation simulator on a real loopback port, the connector, and a webhook receiver."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from crossdock.canonical.envelope import Event
from crossdock.connectorkit.http import HttpClient
from crossdock.connectors.shipstation import (
    DecodeError,
    HookTokenRefusedError,
    ShipStationConnector,
)
from crossdock.sandbox.kit import RunningServer, serve
from crossdock.sandbox.shipstation import ShipStationSimulator

FIXTURES = Path(__file__).parents[2] / "fixtures" / "payloads" / "shipstation"
HOOK_TOKEN = "hook-token-8c1d0e5f"


@pytest.fixture
def order_json() -> dict[str, Any]:
    """The canonical order #1042 (order.v1 JSON)."""
    data: dict[str, Any] = json.loads(
        (FIXTURES / "canonical_order_1042.json").read_bytes(), parse_float=Decimal
    )
    return data


@pytest.fixture
def sim() -> ShipStationSimulator:
    """A fresh account; webhook retries squeezed to milliseconds."""
    return ShipStationSimulator(webhook_time_scale=0.0001)


@pytest.fixture
async def server(sim: ShipStationSimulator) -> AsyncIterator[RunningServer]:
    """The simulator served on 127.0.0.1 (port chosen by the OS)."""
    async with serve(sim.app) as running:
        yield running
    await sim.close()


ConnectorFactory = Callable[..., ShipStationConnector]


@pytest.fixture
def make_connector(
    sim: ShipStationSimulator, server: RunningServer, http: HttpClient
) -> ConnectorFactory:
    """Build a connector against the simulator; keyword arguments override the defaults."""

    def make(**overrides: Any) -> ShipStationConnector:
        creds = sim.credentials_for(server.base_url)
        options: dict[str, Any] = {
            "http": http,
            "api_key": creds["api_key"],
            "api_secret": creds["api_secret"],
            "hook_tokens": [HOOK_TOKEN],
            "base_url": creds["api_url"],
            "location": "wh-reno",
        }
        options.update(overrides)
        return ShipStationConnector(**options)

    return make


@pytest.fixture
def connector(make_connector: ConnectorFactory) -> ShipStationConnector:
    """The default connector (40 per minute budget)."""
    return make_connector()


@dataclass
class Receiver:
    """A small hub ingress: verify the URL token, make the delivery, decode it at once.

    Attributes:
        url: The hook endpoint (append the token).
        deliveries: Every accepted delivery's dedupe key, duplicates included.
        events: Decoded events by id (the event log keeps one per id).
        refused: Statuses answered to refused deliveries.
        dead: Reasons of deliveries that failed to decode (they would be dead-lettered).
    """

    connector: ShipStationConnector
    url: str = ""
    deliveries: list[str] = field(default_factory=list)
    events: dict[str, Event] = field(default_factory=dict)
    refused: list[int] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            delivery = self.connector.delivery(
                request.match_info["token"], dict(request.headers), body
            )
        except HookTokenRefusedError as exc:
            self.refused.append(exc.status)
            return web.Response(status=exc.status, text="unknown hook token")
        self.deliveries.append(delivery.dedupe_key)
        try:
            for event in await self.connector.decode(delivery):
                self.events.setdefault(event.id, event)
        except DecodeError as exc:
            self.dead.append(exc.reason)
        return web.Response(status=200)


@pytest.fixture
async def receiver(connector: ShipStationConnector) -> AsyncIterator[Receiver]:
    """The receiver on 127.0.0.1 (aiohttp.web), subscribed to nothing yet."""
    hub = Receiver(connector)
    app = web.Application()
    app.router.add_post("/hooks/shipstation/{token}", hub.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    hub.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hooks/shipstation"
    yield hub
    await runner.cleanup()
