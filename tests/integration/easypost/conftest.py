"""The EasyPost simulator on a loopback port, the connector pointed at it, and a webhook receiver.

The receiver is a small aiohttp.web app that does what the hub's ingress does: verify with the
connector, store the raw delivery in a real inbox (SQLite, deduplicated by the Event id), and
decode only what was new.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from crossdock.backbone import SqlStore, open_store
from crossdock.canonical.envelope import Event
from crossdock.canonical.refs import OrderRef
from crossdock.connectorkit.http import AiohttpTransport, HttpClient
from crossdock.connectors.easypost import (
    DecodeError,
    EasyPostConnector,
    InMemoryShipmentDirectory,
    ShipmentRef,
)
from crossdock.sandbox.easypost import DEFAULT_DATA, EasyPostSimulator
from crossdock.sandbox.kit import RunningServer, Scenario, serve

# NFKD rewrites both the "fi" ligature and the composed é: a receiver that skipped the
# normalisation would refuse every delivery of this simulator.
WEBHOOK_SECRET = "\ufb01ne-caf\u00e9-webhook-secret"
ORDER = OrderRef(number="#2001")


@dataclass
class Receiver:
    """What the receiver saw: every request, the stored deliveries and the decoded events."""

    connector: EasyPostConnector
    store: SqlStore
    url: str = ""
    fail_first: int = 0
    requests: int = 0
    refused: int = 0
    duplicates: int = 0
    event_ids: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.requests += 1
        if self.requests <= self.fail_first:
            return web.Response(status=500)
        if not await self.connector.verify(request.headers, raw):
            self.refused += 1
            return web.Response(status=401)
        try:
            delivery = self.connector.delivery(request.headers, raw)
        except DecodeError as exc:
            self.dead.append(str(exc))
            return web.Response(status=200)
        stored = await self.store.record_delivery(delivery)
        if not stored.new:
            self.duplicates += 1
            return web.Response(status=200)
        self.event_ids.append(delivery.dedupe_key)
        try:
            self.events.extend(await self.connector.decode(delivery))
        except DecodeError as exc:
            self.dead.append(str(exc))
        return web.Response(status=200)


@dataclass
class Rig:
    """A simulator on loopback, an authenticated admin client, the connector and a receiver."""

    sim: EasyPostSimulator
    server: RunningServer
    admin: aiohttp.ClientSession
    connector: EasyPostConnector
    directory: InMemoryShipmentDirectory
    receiver: Receiver

    @property
    def base_url(self) -> str:
        return self.server.base_url

    async def post_admin(self, path: str, body: dict[str, Any]) -> Any:
        async with self.admin.post(f"{self.base_url}/_sandbox{path}", json=body) as response:
            assert response.status < 300, await response.text()
            return await response.json()

    async def get_admin(self, path: str) -> Any:
        async with self.admin.get(f"{self.base_url}/_sandbox{path}") as response:
            assert response.status < 300, await response.text()
            return await response.json()

    async def subscribe(self) -> None:
        await self.post_admin("/webhooks", {"address": self.receiver.url})

    async def drain(self) -> None:
        await self.post_admin("/deliveries/drain?timeout_s=30", {})

    def expect(self, carrier: str, code: str) -> None:
        self.directory.add(carrier, code, ShipmentRef(order=ORDER, shipment_id=f"shp-{code}"))


def scenario(seed: int = 11) -> Scenario:
    data = copy.deepcopy(DEFAULT_DATA)
    data["webhook_secret"] = WEBHOOK_SECRET
    return Scenario(seed=seed, data=data, name="easypost-test")


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    client = HttpClient(AiohttpTransport(), default_timeout=5)
    yield client
    await client.aclose()


@pytest.fixture
async def rig(tmp_path: Path, http: HttpClient) -> AsyncIterator[Rig]:
    sim = EasyPostSimulator(scenario(), webhook_time_scale=0.0005)
    store = await open_store(str(tmp_path / "hub.db"))
    directory = InMemoryShipmentDirectory()
    async with serve(sim.app) as server, aiohttp.ClientSession() as admin:
        creds = sim.credentials_for(server.base_url)
        connector = EasyPostConnector(
            http=http,
            api_key=creds["api_key"],
            webhook_secrets=["an-old-secret", creds["webhook_secret"]],
            directory=directory,
            base_url=server.base_url,
        )
        receiver = Receiver(connector=connector, store=store)
        app = web.Application()
        app.router.add_post("/hooks/easypost", receiver.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        receiver.url = f"http://127.0.0.1:{port}/hooks/easypost"
        try:
            yield Rig(sim, server, admin, connector, directory, receiver)
        finally:
            if sim.webhooks is not None:
                await sim.webhooks.close()
            await runner.cleanup()
            await store.close()
