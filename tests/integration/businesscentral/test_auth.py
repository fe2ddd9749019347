"""Entra ID client credentials: the token endpoint, caching, expiry and refresh on a 401."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from crossdock.connectorkit import AuthFailedError
from crossdock.connectorkit.auth import OAuth2ClientCredentials
from crossdock.connectorkit.http import HttpClient
from crossdock.connectors.businesscentral import SCOPE, BusinessCentralConnector
from crossdock.runtime.clock import ManualClock
from crossdock.sandbox.businesscentral import BusinessCentralSimulator
from crossdock.sandbox.kit import RunningServer

from .conftest import ConnectorFactory, admin


def _auth(http: HttpClient, creds: dict[str, Any], **options: Any) -> OAuth2ClientCredentials:
    return OAuth2ClientCredentials(
        http,
        creds["token_url"],
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        scope=SCOPE,
        **options,
    )


async def test_the_token_endpoint_answers_like_entra(
    raw: aiohttp.ClientSession, creds: dict[str, Any]
) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": creds["client_id"],
        "client_secret": creds["client_secret"],
        "scope": SCOPE,
    }
    async with raw.post(creds["token_url"], data=form) as response:
        assert response.status == 200
        body = await response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3599
    assert body["access_token"].count(".") == 2

    async with raw.post(creds["token_url"], data={**form, "client_secret": "nope"}) as response:
        refused = await response.json()
        assert response.status == 401
    assert refused["error"] == "invalid_client"
    assert refused["error_description"].startswith("AADSTS7000215")

    async with raw.post(creds["token_url"], data={**form, "scope": "api://other"}) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "invalid_scope"


async def test_calls_without_a_valid_token_are_refused(
    raw: aiohttp.ClientSession, creds: dict[str, Any]
) -> None:
    headers = {"Authorization": "Bearer not-a-token"}
    async with raw.get(f"{creds['api_url']}/companies", headers=headers) as response:
        assert response.status == 401
        body = await response.json()
    assert body["error"]["code"] == "Authentication_InvalidCredentials"


async def test_the_token_is_cached_and_refreshed_after_a_401(
    make_connector: ConnectorFactory,
    http: HttpClient,
    creds: dict[str, Any],
    raw: aiohttp.ClientSession,
    server: RunningServer,
) -> None:
    auth = _auth(http, creds)
    connector = make_connector(auth=auth)

    await connector.companies()
    await connector.companies()
    assert auth.fetches == 1

    await admin(raw, server, "businesscentral/revoke-tokens")
    companies = await connector.companies()

    assert auth.fetches == 2
    assert companies[0]["id"] == creds["company_id"]


async def test_an_expiring_token_is_replaced_before_use(
    make_connector: ConnectorFactory,
    http: HttpClient,
    creds: dict[str, Any],
    sim: BusinessCentralSimulator,
) -> None:
    clock = ManualClock()
    auth = _auth(http, creds, clock=clock, refresh_margin=60)
    connector = make_connector(auth=auth)
    await connector.companies()

    clock.advance(3599 - 59)  # inside the refresh margin
    await connector.companies()

    assert auth.fetches == 2
    assert len(sim.tokens) == 2


async def test_a_token_that_expired_at_the_server_is_refreshed(
    make_connector: ConnectorFactory,
    http: HttpClient,
    creds: dict[str, Any],
    raw: aiohttp.ClientSession,
    server: RunningServer,
    sim: BusinessCentralSimulator,
) -> None:
    await admin(raw, server, "businesscentral/settings", {"token_lifetime_s": 1})
    clock = ManualClock()  # our clock stands still: only the server sees the expiry
    auth = _auth(http, creds, clock=clock, refresh_margin=0)
    connector = make_connector(auth=auth)
    await connector.companies()
    for token in sim.tokens.values():
        token.expires_at = 0.0  # expired at the server

    await connector.companies()

    assert auth.fetches == 2
    statuses = [r.status for r in sim.requests.recent(path_prefix="/v2.0")]
    assert statuses == [200, 401, 200]


async def test_wrong_credentials_are_an_auth_failure(make_connector: ConnectorFactory) -> None:
    connector: BusinessCentralConnector = make_connector(client_secret="wrong")

    with pytest.raises(AuthFailedError, match="invalid_client"):
        await connector.companies()
