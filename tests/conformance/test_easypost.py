"""EasyPost against its simulator: the standard conformance battery.

A static API key (no refresh); the simulator enforces no rate limit (EasyPost publishes none
for trackers), so the rate cases are skipped; tracker webhooks are HMAC-signed (hex).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from crossdock.backbone.store import Command, Delivery
from crossdock.canonical.refs import OrderRef
from crossdock.connectorkit import Connector, PermanentFailureError
from crossdock.connectorkit.testing import (
    CommandSample,
    ConformanceSpec,
    ConnectorOptions,
    InboundSample,
    InboundSpec,
    SimulatorEnv,
    error_classes,
    make_conformance_tests,
)
from crossdock.connectors.easypost import (
    TRACK_COMMAND,
    EasyPostConnector,
    InMemoryShipmentDirectory,
    ShipmentRef,
)
from crossdock.sandbox.easypost import EasyPostSimulator

from .conftest import capture_delivery, served

TRACKED = ("UPS", "1Z999AA10123456784")  # the command's tracker
NOTIFIED = ("USPS", "9400110200881234567890")  # the delivery's tracker


@asynccontextmanager
async def _start() -> AsyncIterator[SimulatorEnv]:
    async with served(EasyPostSimulator(webhook_time_scale=0.0005)) as env:
        yield env


def _connect(env: SimulatorEnv, options: ConnectorOptions) -> Connector:
    directory = InMemoryShipmentDirectory()
    carrier, code = NOTIFIED
    directory.add(carrier, code, ShipmentRef(order=OrderRef(number="#2001"), shipment_id="shp-1"))
    connector = EasyPostConnector(
        http=options.http,
        api_key=str(options.credentials["api_key"]),
        webhook_secrets=[str(options.credentials["webhook_secret"])],
        directory=directory,
        base_url=env.base_url,
        rate_budget=options.rate_budget,
        breaker=options.breaker,
        clock=options.clock,
    )
    if options.timeout is not None:
        connector.default_timeout = options.timeout  # type: ignore[misc]
    return connector


def _spoil(creds: Mapping[str, Any]) -> Mapping[str, Any]:
    return {**creds, "api_key": "EZTK_not_a_key", "webhook_secret": "not-the-secret"}


async def _probe(connector: Connector) -> object:
    return (await connector.call("GET", "/v2/trackers")).json()


async def _command(env: SimulatorEnv) -> CommandSample:
    carrier, code = TRACKED
    payload = {"tracking_code": code, "carrier": carrier}
    command = Command("flow-1:track", "easypost", TRACK_COMMAND, payload)
    return CommandSample(command, effect_kind="tracker", effect_key=code)


async def _event(env: SimulatorEnv) -> InboundSample:
    sim: EasyPostSimulator = env.handle
    carrier, code = NOTIFIED

    def track() -> None:
        record, _ = sim.book.create(code, carrier, mode="test")
        sim.emit("tracker.created", record.data, previous_status=None)

    return await capture_delivery(env, track, topic="tracker.created")


def _to_delivery(connector: Connector, sample: InboundSample) -> Delivery:
    assert isinstance(connector, EasyPostConnector)
    return connector.delivery(sample.headers, sample.body)


EASYPOST_SPEC = ConformanceSpec(
    name="easypost",
    start=_start,
    connect=_connect,
    spoil_credentials=_spoil,
    probe=_probe,
    command=_command,
    error_classes=error_classes(s403=PermanentFailureError),
    inbound=InboundSpec(sample=_event, to_delivery=_to_delivery),
)

TestEasyPostConformance = make_conformance_tests(EASYPOST_SPEC)
