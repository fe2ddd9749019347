"""Business Central against its simulator: the kit's standard conformance battery.

Two cases rest on assumptions that Business Central's protocol does not meet; they are strict
xfails, and the property each checks is proven by hand-written tests instead:

- the lost-answer case needs the command's first request to be the one with the effect, but
  BC has no idempotency key, so every create starts with a lookup by externalDocumentNumber
  (the battery's all-calls hang stops that lookup before any effect): see
  test_orders.py::test_an_ambiguous_create_is_settled_by_lookup_never_by_posting_again;
- the budget case counts every logged call as a business call, and the Entra token request
  (served by the same simulator) makes the log one longer than the burst: see
  test_limits.py::test_the_window_budget_never_draws_a_429.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from crossdock.backbone.store import Command
from crossdock.connectorkit import Connector
from crossdock.connectorkit.testing import (
    CommandSample,
    ConformanceSpec,
    ConnectorOptions,
    RateLimitSpec,
    SimulatorEnv,
    make_conformance_tests,
)
from crossdock.connectors.businesscentral import (
    CREATE_ORDER,
    BusinessCentralBudget,
    BusinessCentralConnector,
)
from crossdock.sandbox.businesscentral import BusinessCentralSimulator, Settings
from crossdock.sandbox.kit import serve

from .conftest import order_payload


@asynccontextmanager
async def _start() -> AsyncIterator[SimulatorEnv]:
    sim = BusinessCentralSimulator()
    async with serve(sim.app) as server:
        yield SimulatorEnv(server.base_url, sim.credentials_for(server.base_url), sim)


def _connect(env: SimulatorEnv, options: ConnectorOptions) -> Connector:
    creds = options.credentials
    connector = BusinessCentralConnector(
        http=options.http,
        tenant=str(creds["tenant"]),
        environment=str(creds["environment"]),
        company_id=str(creds["company_id"]),
        client_id=str(creds["client_id"]),
        client_secret=str(creds["client_secret"]),
        token_url=str(creds["token_url"]),
        base_url=env.base_url,
        rate_budget=options.rate_budget,
        breaker=options.breaker,
        clock=options.clock,
    )
    if options.timeout is not None:
        connector.default_timeout = options.timeout  # type: ignore[misc]
    return connector


def _spoil(creds: Mapping[str, Any]) -> Mapping[str, Any]:
    return {**creds, "client_secret": "not-the-secret"}


async def _probe(connector: Connector) -> object:
    assert isinstance(connector, BusinessCentralConnector)
    return await connector.companies()


async def _command(env: SimulatorEnv) -> CommandSample:
    command = Command("flow-1:erp", "businesscentral", CREATE_ORDER, order_payload("ORD-C1"))
    return CommandSample(command, effect_kind="salesOrder", effect_key="ORD-C1")


async def _revoke(env: SimulatorEnv) -> None:
    sim: BusinessCentralSimulator = env.handle
    sim.tokens.clear()


async def _tighten(env: SimulatorEnv) -> None:
    sim: BusinessCentralSimulator = env.handle
    sim.configure(Settings(rate_limit=5, rate_window_s=2.0))


BUSINESSCENTRAL_SPEC = ConformanceSpec(
    name="businesscentral",
    start=_start,
    connect=_connect,
    spoil_credentials=_spoil,
    probe=_probe,
    command=_command,
    auth_refresh=_revoke,
    rate_limit=RateLimitSpec(
        burst=12,
        concurrency=4,
        tighten=_tighten,
        budget=lambda name: BusinessCentralBudget(name, limit=5, window=2.0),
    ),
)

TestBusinessCentralConformance = make_conformance_tests(
    BUSINESSCENTRAL_SPEC,
    xfail={
        "test_idempotent_retry_after_timeout": (
            "BC has no idempotency key: a create starts with a lookup, which the battery's "
            "all-calls hang stops before any effect (kit limitation; covered in test_orders.py)"
        ),
        "test_rate_budget_respected": (
            "the battery counts the Entra token request as a business call (kit limitation; "
            "covered in test_limits.py)"
        ),
    },
)
