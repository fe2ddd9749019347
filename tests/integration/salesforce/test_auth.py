"""Both token flows against the simulator's token endpoint, expiry and refresh."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from crossdock.connectorkit import AuthFailedError
from crossdock.connectors.salesforce import SalesforceConnector
from crossdock.runtime.clock import ManualClock
from crossdock.sandbox.kit import RunningServer

from .conftest import ConnectorFactory, admin


async def _token(raw: aiohttp.ClientSession, url: str, **kw: Any) -> tuple[int, Any]:
    async with raw.post(url, **kw) as response:
        return response.status, await response.json()


async def test_client_credentials_by_form_and_by_basic(
    raw: aiohttp.ClientSession, creds: dict[str, Any], server: RunningServer
) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": creds["client_id"],
        "client_secret": creds["client_secret"],
    }
    status, body = await _token(raw, creds["token_url"], data=form)
    basic = base64.b64encode(f"{creds['client_id']}:{creds['client_secret']}".encode()).decode()
    status2, body2 = await _token(
        raw,
        creds["token_url"],
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )

    assert status == status2 == 200
    assert body["token_type"] == "Bearer"
    assert body["instance_url"] == server.base_url
    assert body["issued_at"].isdigit()
    assert len(body["issued_at"]) == 13
    assert {"access_token", "signature", "id", "scope"} <= set(body)
    assert body2["access_token"] != body["access_token"]


async def test_a_wrong_secret_is_invalid_client(
    raw: aiohttp.ClientSession, creds: dict[str, Any]
) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": creds["client_id"],
        "client_secret": "nope",
    }
    status, body = await _token(raw, creds["token_url"], data=form)

    assert status == 400
    assert body == {"error": "invalid_client", "error_description": "invalid client credentials"}


@pytest.mark.parametrize("audience", ["https://login.salesforce.com", "my-domain"])
async def test_the_jwt_bearer_flow_reaches_the_api(
    make_connector: ConnectorFactory, server: RunningServer, audience: str
) -> None:
    aud = server.base_url if audience == "my-domain" else audience
    connector = make_connector("jwt", audience=aud)

    rows = await connector.query("SELECT Id, Name FROM Pricebook2 WHERE IsStandard = true")

    assert [r["Name"] for r in rows] == ["Standard Price Book"]


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ("foreign_key", "invalid assertion: bad signature"),
        ("audience", "audience is invalid"),
        ("subject", "user hasn't approved this consumer"),
        ("issuer", "invalid client credentials"),
    ],
)
async def test_a_bad_assertion_is_refused(
    make_connector: ConnectorFactory, override: str, error: str
) -> None:
    options: dict[str, Any] = {}
    if override == "foreign_key":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        options["private_key_pem"] = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
    elif override == "audience":
        options["audience"] = "https://example.com"
    elif override == "subject":
        options["subject"] = "stranger@example.com"
    else:
        options["issuer"] = "3MVG9unknown"
    connector = make_connector("jwt", **options)

    with pytest.raises(AuthFailedError) as refused:
        await connector.query("SELECT Id FROM Account")
    assert refused.value.detail == error


async def test_an_expired_assertion_is_refused(make_connector: ConnectorFactory) -> None:
    # A hub clock an hour behind: the assertion's exp already passed on the org's clock.
    behind = ManualClock(datetime.now(UTC) - timedelta(hours=1))
    connector = make_connector("jwt", auth_clock=behind)

    with pytest.raises(AuthFailedError) as refused:
        await connector.query("SELECT Id FROM Account")
    assert refused.value.detail == "expired authorization code"


@pytest.mark.parametrize("flow", ["client_credentials", "jwt"])
async def test_a_revoked_session_is_refreshed_once(
    make_connector: ConnectorFactory,
    raw: aiohttp.ClientSession,
    server: RunningServer,
    flow: str,
) -> None:
    connector: SalesforceConnector = make_connector(flow)
    await connector.query("SELECT Id FROM Account")
    await admin(raw, server, "salesforce/sessions/expire")

    rows = await connector.query("SELECT Id FROM Account")

    assert rows == []
    assert connector.auth.fetches == 2


async def test_a_session_past_its_lifetime_gets_401_then_a_new_token(
    make_connector: ConnectorFactory, raw: aiohttp.ClientSession, server: RunningServer
) -> None:
    connector = make_connector()
    await connector.query("SELECT Id FROM Account")
    # Three hours on the org's clock: the 2-hour session is gone, the hub's cache still has it.
    await admin(raw, server, "salesforce/clock", {"advance_s": 3 * 3600})

    rows = await connector.query("SELECT Id FROM Account")

    assert rows == []
    assert connector.auth.fetches == 2


async def test_a_call_without_a_session_gets_invalid_session_id(
    raw: aiohttp.ClientSession, server: RunningServer
) -> None:
    url = f"{server.base_url}/services/data/v62.0/query?q=SELECT+Id+FROM+Account"
    async with raw.get(url, headers={"Authorization": "Bearer stale"}) as response:
        body = await response.json()

    assert response.status == 401
    assert body == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
