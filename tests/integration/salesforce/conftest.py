"""The Salesforce simulator on a real loopback port, and the connector pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from crossdock.connectorkit.auth import OAuth2ClientCredentials, OAuth2JwtBearer
from crossdock.connectorkit.http import HttpClient
from crossdock.connectors.salesforce import SalesforceConnector
from crossdock.runtime.clock import ManualClock
from crossdock.sandbox.kit import RunningServer, Scenario, serve
from crossdock.sandbox.salesforce import DEFAULT_DATA, SalesforceSimulator

ConnectorFactory = Callable[..., SalesforceConnector]


@pytest.fixture
def sim() -> SalesforceSimulator:
    """A fresh org; a CometD long poll is held at most 2 s."""
    return SalesforceSimulator(Scenario(seed=62, data={**DEFAULT_DATA, "poll_timeout_s": 2.0}))


@pytest.fixture
async def server(sim: SalesforceSimulator) -> AsyncIterator[RunningServer]:
    """The simulator on 127.0.0.1 (port chosen by the OS)."""
    async with serve(sim.app) as running:
        yield running


@pytest.fixture
def creds(sim: SalesforceSimulator, server: RunningServer) -> dict[str, Any]:
    """The simulator's credentials at its served URL."""
    return sim.credentials_for(server.base_url)


@pytest.fixture
def clock() -> ManualClock:
    """The connector's clock (token cache and daily budget)."""
    return ManualClock(datetime.now(UTC))


@pytest.fixture
def make_connector(creds: dict[str, Any], http: HttpClient, clock: ManualClock) -> ConnectorFactory:
    """Build a connector; ``flow="jwt"`` for the JWT bearer flow, other keywords override."""

    def make(flow: str = "client_credentials", **overrides: Any) -> SalesforceConnector:
        auth: Any
        auth_clock = overrides.pop("auth_clock", clock)
        if flow == "jwt":
            auth = OAuth2JwtBearer(
                http,
                creds["token_url"],
                issuer=overrides.pop("issuer", creds["jwt_consumer_key"]),
                subject=overrides.pop("subject", creds["jwt_username"]),
                audience=overrides.pop("audience", creds["jwt_audience"]),
                private_key_pem=overrides.pop("private_key_pem", creds["jwt_private_key_pem"]),
                clock=auth_clock,
            )
        else:
            auth = OAuth2ClientCredentials(
                http,
                creds["token_url"],
                client_id=overrides.pop("client_id_for_token", creds["client_id"]),
                client_secret=overrides.pop("client_secret", creds["client_secret"]),
                clock=auth_clock,
            )
        options: dict[str, Any] = {"http": http, "auth": auth, "clock": clock}
        options.update(overrides)
        return SalesforceConnector(**options)

    return make


@pytest.fixture
def connector(make_connector: ConnectorFactory) -> SalesforceConnector:
    """A connector on the client-credentials flow, instance URL from the token response."""
    return make_connector()


async def admin(
    raw: aiohttp.ClientSession, server: RunningServer, path: str, body: Any = None
) -> Any:
    """POST to a ``/_sandbox`` admin endpoint and return its JSON."""
    async with raw.post(f"{server.base_url}/_sandbox/{path}", json=body or {}) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def effects(raw: aiohttp.ClientSession, server: RunningServer) -> dict[str, Any]:
    """The simulator's effect ledger."""
    async with raw.get(f"{server.base_url}/_sandbox/effects") as response:
        assert response.status == 200
        body = await response.json()
        found: dict[str, Any] = body["effects"]
        return found
