"""The Business Central simulator on a real loopback port, and the connector pointed at it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from crossdock.connectorkit.http import HttpClient
from crossdock.connectors.businesscentral import BusinessCentralConnector
from crossdock.sandbox.businesscentral import SCOPE, BusinessCentralSimulator
from crossdock.sandbox.kit import FaultAction, FaultInjector, FaultSpec, RunningServer, serve

ConnectorFactory = Callable[..., BusinessCentralConnector]


@pytest.fixture
def sim() -> BusinessCentralSimulator:
    """A fresh tenant: one company, a customer, three items in stock."""
    return BusinessCentralSimulator()


@pytest.fixture
async def server(sim: BusinessCentralSimulator) -> AsyncIterator[RunningServer]:
    """The simulator on 127.0.0.1 (port chosen by the OS)."""
    async with serve(sim.app) as running:
        yield running


@pytest.fixture
def creds(sim: BusinessCentralSimulator, server: RunningServer) -> dict[str, Any]:
    """What the manifest would hand a client."""
    return sim.credentials_for(server.base_url)


@pytest.fixture
def make_connector(
    http: HttpClient, server: RunningServer, creds: dict[str, Any]
) -> ConnectorFactory:
    """Build a connector for the simulator; keyword arguments override the defaults."""

    def make(**overrides: Any) -> BusinessCentralConnector:
        options: dict[str, Any] = {
            "http": http,
            "tenant": creds["tenant"],
            "environment": creds["environment"],
            "company_id": creds["company_id"],
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "token_url": creds["token_url"],
            "base_url": server.base_url,
        }
        options.update(overrides)
        return BusinessCentralConnector(**options)

    return make


@pytest.fixture
def connector(make_connector: ConnectorFactory) -> BusinessCentralConnector:
    """The connector with its default budget and breaker."""
    return make_connector()


async def admin(
    raw: aiohttp.ClientSession, server: RunningServer, path: str, body: Any = None
) -> Any:
    """POST to ``/_sandbox/<path>`` and return the decoded answer (asserting 200)."""
    async with raw.post(f"{server.base_url}/_sandbox/{path}", json=body or {}) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def clear_faults(raw: aiohttp.ClientSession, server: RunningServer) -> None:
    """Remove every injected fault."""
    async with raw.delete(f"{server.base_url}/_sandbox/faults") as response:
        assert response.status == 200


def order_payload(order_id: str, **extra: Any) -> dict[str, Any]:
    """A ``sales_order.create`` payload: two desks and a conference table for C00010."""
    return {
        "order_id": order_id,
        "customer_number": "C00010",
        "order_date": "2026-11-27",
        "ship_to": {
            "name": "Adatum Receiving",
            "line1": "1 Dock Road",
            "city": "Atlanta",
            "postal_code": "31772",
            "country_code": "US",
        },
        "lines": [
            {"sku": "1896-S", "quantity": "2", "unit_price": "1000.80"},
            {"sku": "1920-S", "quantity": "1"},
        ],
        **extra,
    }


class Client:
    """A raw client with a token, speaking to the company's endpoints."""

    def __init__(self, session: aiohttp.ClientSession, creds: dict[str, Any], token: str) -> None:
        self.session = session
        self.company = f"{creds['api_url']}/companies({creds['company_id']})"
        self.headers = {"Authorization": f"Bearer {token}"}

    async def send(
        self, method: str, path: str, body: Any = None, **headers: str
    ) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
        url = path if "://" in path else f"{self.company}/{path}"
        async with self.session.request(
            method, url, json=body, headers={**self.headers, **headers}
        ) as response:
            raw = await response.read()
            data = json.loads(raw, parse_float=Decimal) if raw else None
            return response.status, data, response.headers


@pytest.fixture
async def client(raw: aiohttp.ClientSession, creds: dict[str, Any]) -> Client:
    """A client holding a fresh token."""
    form = {
        "grant_type": "client_credentials",
        "client_id": creds["client_id"],
        "client_secret": creds["client_secret"],
        "scope": SCOPE,
    }
    async with raw.post(creds["token_url"], data=form) as response:
        token = (await response.json())["access_token"]
    return Client(raw, creds, token)


def seed_for(pattern: list[FaultAction], spec: FaultSpec) -> int:
    """A seed under which the injector's first decisions follow ``pattern``."""
    for seed in range(10_000):
        probe = FaultInjector(seed)
        probe.configure(spec.model_copy(update={"seed": seed}))
        if [probe.decide().action for _ in pattern] == pattern:
            return seed
    raise AssertionError("no seed gives that pattern")
