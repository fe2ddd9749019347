"""NetSuite against its simulator: the kit's standard conformance battery.

Token-based auth has no token to refresh: its "refresh" is a fresh signature (a new nonce and
timestamp), which the connector makes once after an INVALID_LOGIN; the simulator's refuse-next
hook stands for NetSuite refusing a nonce it believes it has seen. The quota is the account's
concurrency, tightened to 2 slots with slow calls so that a burst overlaps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from crossdock.canonical.ids import new_id
from crossdock.connectorkit import Connector
from crossdock.connectorkit.testing import (
    CommandSample,
    ConformanceSpec,
    ConnectorOptions,
    RateLimitSpec,
    SimulatorEnv,
    make_conformance_tests,
)
from crossdock.connectors.netsuite import CUSTOMER_UPSERT, NetSuiteConnector
from crossdock.runtime.resilience import ConcurrencySlots
from crossdock.sandbox.kit import serve
from crossdock.sandbox.netsuite import NetSuiteSimulator

from .builders import command, customer


@asynccontextmanager
async def _start() -> AsyncIterator[SimulatorEnv]:
    sim = NetSuiteSimulator()
    async with serve(sim.app) as server:
        yield SimulatorEnv(server.base_url, sim.credentials_for(server.base_url), sim)


def _connect(env: SimulatorEnv, options: ConnectorOptions) -> Connector:
    creds = options.credentials
    connector = NetSuiteConnector(
        http=options.http,
        account_id=str(creds["account_id"]),
        consumer_key=str(creds["consumer_key"]),
        consumer_secret=str(creds["consumer_secret"]),
        token_id=str(creds["token_id"]),
        token_secret=str(creds["token_secret"]),
        base_url=str(creds["rest_url"]),
        rate_budget=options.rate_budget,
        breaker=options.breaker,
        clock=options.clock,
    )
    if options.timeout is not None:
        connector.default_timeout = options.timeout  # type: ignore[misc]
    return connector


def _spoil(creds: Mapping[str, Any]) -> Mapping[str, Any]:
    return {**creds, "token_secret": "not-the-token-secret"}


async def _probe(connector: Connector) -> object:
    assert isinstance(connector, NetSuiteConnector)
    return await connector.read("inventoryItem", "5501")


async def _command(env: SimulatorEnv) -> CommandSample:
    customer_id = new_id()
    sample = command(CUSTOMER_UPSERT, {"customer": customer(customer_id)})
    return CommandSample(sample, effect_kind="customer", effect_key=customer_id)


async def _refuse_next_signature(env: SimulatorEnv) -> None:
    sim: NetSuiteSimulator = env.handle
    sim.tba.refuse_next = 1


async def _tighten(env: SimulatorEnv) -> None:
    sim: NetSuiteSimulator = env.handle
    sim.concurrency_limit = 2
    sim.processing_s = 0.1


NETSUITE_SPEC = ConformanceSpec(
    name="netsuite",
    start=_start,
    connect=_connect,
    spoil_credentials=_spoil,
    probe=_probe,
    command=_command,
    auth_refresh=_refuse_next_signature,
    rate_limit=RateLimitSpec(
        burst=12,
        concurrency=6,
        tighten=_tighten,
        budget=lambda name: ConcurrencySlots(name, limit=2),
    ),
)

TestNetSuiteConformance = make_conformance_tests(NETSUITE_SPEC)
