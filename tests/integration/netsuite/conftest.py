"""The NetSuite simulator on a loopback port, a connector pointed at it, and an oauthlib signer.

oauthlib is the independent OAuth 1.0a implementation: requests it signs must be accepted by
the simulator, and the connector's signatures must equal its own on the same inputs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_AUTH_HEADER, Client

from crossdock.connectorkit.http import AiohttpTransport, HttpClient, encode_json
from crossdock.connectors.netsuite import NetSuiteConnector
from crossdock.runtime.resilience import ConcurrencySlots
from crossdock.sandbox.kit import RunningServer, serve
from crossdock.sandbox.netsuite import NetSuiteSimulator


def oauth_client(creds: dict[str, Any], **overrides: Any) -> Client:
    """oauthlib's client with the simulator's credentials (HMAC-SHA256, realm)."""
    settings: dict[str, Any] = {
        "client_key": creds["consumer_key"],
        "client_secret": creds["consumer_secret"],
        "resource_owner_key": creds["token_id"],
        "resource_owner_secret": creds["token_secret"],
        "signature_method": SIGNATURE_HMAC_SHA256,
        "signature_type": SIGNATURE_TYPE_AUTH_HEADER,
        "realm": creds["realm"],
    }
    settings.update(overrides)
    return Client(**settings)


@dataclass
class Rig:
    """A simulator on loopback, its credentials, a raw client session and the connector."""

    sim: NetSuiteSimulator
    server: RunningServer
    creds: dict[str, Any]
    session: aiohttp.ClientSession
    http: HttpClient

    @property
    def rest(self) -> str:
        return str(self.creds["rest_url"])

    def connector(self, **overrides: Any) -> NetSuiteConnector:
        settings: dict[str, Any] = {
            "http": self.http,
            "account_id": self.creds["account_id"],
            "consumer_key": self.creds["consumer_key"],
            "consumer_secret": self.creds["consumer_secret"],
            "token_id": self.creds["token_id"],
            "token_secret": self.creds["token_secret"],
            "base_url": self.rest,
            "rate_budget": ConcurrencySlots("netsuite-test", limit=15),
        }
        settings.update(overrides)
        return NetSuiteConnector(**settings)

    async def signed(
        self,
        method: str,
        url: str,
        body: Any = None,
        *,
        client: Client | None = None,
        send_url: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, CIMultiDict[str]]:
        """Sign with oauthlib and send (to ``send_url`` if given: an altered request)."""
        content = encode_json(body) if body is not None else None
        base_headers = {"Content-Type": "application/json"} if content is not None else {}
        signer = client or oauth_client(self.creds)
        _, signed_headers, _ = signer.sign(
            url, http_method=method, body=content, headers=base_headers
        )
        all_headers = {**signed_headers, **(headers or {})}
        async with self.session.request(
            method, send_url or url, data=content, headers=all_headers
        ) as response:
            raw = await response.read()
            data = await response.json(content_type=None) if raw else None
            return response.status, data, CIMultiDict(response.headers)

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        url = f"{self.server.base_url}/_sandbox{path}"
        async with self.session.request(method, url, json=body) as response:
            assert response.status < 300, await response.text()
            return await response.json()


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    client = HttpClient(AiohttpTransport(), default_timeout=5)
    yield client
    await client.aclose()


@pytest.fixture
async def rig(http: HttpClient) -> AsyncIterator[Rig]:
    sim = NetSuiteSimulator()
    async with serve(sim.app) as server, aiohttp.ClientSession() as session:
        creds = sim.credentials_for(server.base_url)
        yield Rig(sim, server, creds, session, http)
